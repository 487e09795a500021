"""sweep.yaml -> validated SweepConfig (sweep_file.py) -> trials and plan (trials.py)."""
from sweep.config.sweep_file import (ConfigError, Family, Resources, SweepConfig, load_config,
                                     parse_config)
from sweep.config.trials import (base_settings, budget_text, classifier_dir, counts,
                                 experiment_dir, family_count, grid_trials, plan, trials)

__all__ = ["ConfigError", "Family", "Resources", "SweepConfig", "load_config", "parse_config",
           "base_settings", "budget_text", "classifier_dir", "counts", "experiment_dir",
           "family_count", "grid_trials", "plan", "trials"]
