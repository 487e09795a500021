"""`sweep dashboard` / `make dashboard`: where the running Ray dashboard is, and its token."""
from __future__ import annotations

import os
from typing import Any

from sweep.cluster import auth_token, ray_cli


def cmd_dashboard(args: Any) -> int:
    import ray

    address = args.address or os.environ.get("RAY_ADDRESS") or "auto"
    try:
        ctx = ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    except (ConnectionError, RuntimeError) as exc:
        print(f"error: no running Ray instance found ({exc}); start one with `make grid`.")
        return 2
    try:
        url = ctx.dashboard_url or ""
        print(f"dashboard: {'http://' + url if url and not url.startswith('http') else url}")
        token = auth_token()
        print(f"token:     {token or f'(none: run `{ray_cli()} get-auth-token`)'}")
    finally:
        ray.shutdown()
    return 0
