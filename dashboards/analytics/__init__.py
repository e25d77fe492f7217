"""Machine load, downtime Pareto, OEE and the trend KPIs: the reads behind the analytics pages, API and workbooks.

Every selector runs a fixed number of queries whatever the data size: it fetches plain rows (`.values()` or
grouped aggregates) from the database the dashboards read (the replica when one is configured) and does the
calendar arithmetic in Python.
"""

from dashboards.analytics.load import (
    DEFINITIONS,
    MAX_RANGE_DAYS,
    AnalyticsRange,
    LoadAnalysis,
    LoadCell,
    LoadRow,
    MachineLoad,
    OeeRow,
    ParetoRow,
    day_start,
    downtime_pareto,
    load_analysis,
    machine_load,
    oee,
    working_window,
)
from dashboards.analytics.trends import (
    KPI_CACHE_SECONDS,
    KPI_DEFINITIONS,
    KPI_MONTHS,
    KPI_WEEKS,
    Kpi,
    KpiPoint,
    kpi_periods,
    kpis,
    kpis_forget,
    month_start,
    week_start,
)

__all__ = [
    "DEFINITIONS",
    "KPI_CACHE_SECONDS",
    "KPI_DEFINITIONS",
    "KPI_MONTHS",
    "KPI_WEEKS",
    "MAX_RANGE_DAYS",
    "AnalyticsRange",
    "Kpi",
    "KpiPoint",
    "LoadAnalysis",
    "LoadCell",
    "LoadRow",
    "MachineLoad",
    "OeeRow",
    "ParetoRow",
    "day_start",
    "downtime_pareto",
    "kpi_periods",
    "kpis",
    "kpis_forget",
    "load_analysis",
    "machine_load",
    "month_start",
    "oee",
    "week_start",
    "working_window",
]
