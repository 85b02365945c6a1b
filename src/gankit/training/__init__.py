"""The generic training engine (knows no GAN family)."""
