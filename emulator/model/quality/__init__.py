"""Measured quality of compacted models: quality tables and the quality model.

See ``docs/quality.md``. :func:`load_quality_model` reads the shipped tables (published
perplexities and scores with their citations, and a calibration measured on this project's
machine); :meth:`QualityModel.estimate` maps a decision to a task metric and an output
distortion.
"""

from coinfer.emulator.model.quality.model import (
    SHIPPED_TABLES,
    QualityEstimate,
    QualityModel,
    load_quality_model,
    shipped_table_paths,
)
from coinfer.emulator.model.quality.tables import (
    DENSE_BITS,
    QualityPoint,
    QualityTable,
    read_quality_table,
)

__all__ = [
    "DENSE_BITS",
    "SHIPPED_TABLES",
    "QualityEstimate",
    "QualityModel",
    "QualityPoint",
    "QualityTable",
    "load_quality_model",
    "read_quality_table",
    "shipped_table_paths",
]
