"""What every benchmark shares: the machine record of its JSON, percentages, reading older results.

Benchmarks run as scripts (``python bench/x.py``), so this module is imported as ``_common``.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any


def machine_info(**extra: Any) -> dict[str, Any]:
    """The one machine record of every benchmark JSON (key ``machine``): cores, platform, Python,
    torch and its threads (when the benchmark loaded torch), and the load average when called
    (call it at the end of the run: the load the measurement shared the cores with)."""
    torch = sys.modules.get("torch")
    info: dict[str, Any] = {
        "cpus": os.cpu_count(), "platform": platform.platform(), "arch": platform.machine(),
        "python": platform.python_version(),
        "torch": getattr(torch, "__version__", None), "torch_threads": torch.get_num_threads() if torch else None,
        "load_avg": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }
    info.update(extra)
    return info


def load_avg(result: dict[str, Any] | None) -> list[float] | None:
    """The end-of-run load average a result recorded: ``machine.load_avg``, or the keys that results
    written before :func:`machine_info` used (``load_avg_at_end``, ``load_average_at_end``,
    ``load_avg_end``, ``load_avg_1m``), in ``machine`` or at the top level."""
    if not result:
        return None
    for d in (result.get("machine") or {}, result):
        for key in ("load_avg", "load_avg_at_end", "load_average_at_end", "load_avg_end"):
            if d.get(key) is not None:
                return [float(x) for x in d[key]]
        if d.get("load_avg_1m") is not None:
            return [float(d["load_avg_1m"])]
    return None


def pct(x: float | None, digits: int = 1) -> str:
    """0.9123 -> '91.2%'; None -> 'n/a'."""
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"
