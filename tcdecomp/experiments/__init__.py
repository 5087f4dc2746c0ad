"""The paper's experiments: what a finished sweep's store says about Figs. 2-4 (:mod:`.figures`), with
seed-paired bootstrap intervals (:mod:`.stats`). The sweep files themselves are in ``experiments/``."""
