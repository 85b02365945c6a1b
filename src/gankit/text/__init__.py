"""Text GANs: tokenizer, text datasets (words, fortunes, the SeqGAN oracle, any .txt file), an LSTM
generator, CNN/LSTM discriminators, the `mle`, `seqgan` and `gumbel` objectives and text metrics.

Sequences are int64 token ids (N, L): a sequence's tokens, then <eos>, then <pad> up to L (the
oracle's fixed-length sequences have neither). The submodules register themselves from the
registries' own packages (gankit.data, gankit.objectives), so this file imports nothing.
"""
