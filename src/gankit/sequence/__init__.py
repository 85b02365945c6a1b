"""Sequence GANs: skeleton motion and time series on the gankit engine.

Modules (each registers itself when gankit is imported; this package file stays import-free so the
registration lines in data/, nets/ and objectives/ can import its modules in any order):

    skeleton   the kinematic skeleton, forward kinematics and the procedural `motion` clip generator
    datasets   motion, sines, sunspots, co2, macrodata and CSV windows, normalised to [-1, 1]
    nets       seq-gru, seq-lstm, seq-tcn generators/discriminators and the bone-length output head
    objective  the `sequence` objective (a GAN with sequence extras) and its config section
    metrics    discriminative / predictive scores, MMD, bone length, foot contact, action accuracy
    render     animated stick figures (GIF, or MP4 when ffmpeg is present) and line plots
    command    `gankit eval-sequence RUN --metrics ...`
"""
