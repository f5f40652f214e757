"""Models: checkpoints, the SPLADE/ESPLADE encoder (torch is imported lazily by submodules)."""
