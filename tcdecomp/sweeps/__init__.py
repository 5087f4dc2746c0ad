"""Grids of training runs: the resumable runner with its append-only store (:mod:`.runner`) and where runs
execute, local processes, Ray or Slurm (:mod:`.backends`)."""
