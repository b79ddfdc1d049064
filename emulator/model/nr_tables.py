"""The 5G NR tables a link abstraction needs, transcribed from 3GPP TS 38.214 (Release 15+).

Each row is ``(modulation order Q_m, target code rate R × 1024, spectral efficiency)``, the
spectral efficiency being ``Q_m · R`` in information bits per resource element (bit/s/Hz before
the cyclic prefix and overhead), rounded to four decimals as the specification prints it.

* :data:`MCS_TABLE_1`: TS 38.214 Table 5.1.3.1-1, *MCS index table 1 for PDSCH* (up to
  64QAM), indices 0–28 (29–31 are reserved for retransmissions and carry no code rate). PUSCH
  without transform precoding uses the same table (TS 38.214 §6.1.4.1).
* :data:`MCS_TABLE_2`: TS 38.214 Table 5.1.3.1-2, *MCS index table 2 for PDSCH* (up to
  256QAM), indices 0–27 (28–31 reserved).
* :data:`CQI_TABLE_1`: TS 38.214 Table 5.2.2.1-2, *4-bit CQI Table 1* (up to 64QAM),
  CQI 1–15 (CQI 0 is "out of range"); identical to LTE's TS 36.213 Table 7.2.3-1.
* :data:`CQI_TABLE_2`: TS 38.214 Table 5.2.2.1-3, *4-bit CQI Table 2* (up to 256QAM), CQI 1–15.

The values were checked against two independent open-source transcriptions (srsRAN's
``pdsch_mcs.cpp`` and ``ra_nr.c``) when they were written; ``tests/emulator/test_links.py``
checks every row's spectral efficiency against ``Q_m · R / 1024``.
"""

from __future__ import annotations

#: One row: modulation order Q_m (bits per symbol), code rate × 1024, spectral efficiency.
Row = tuple[int, float, float]

MCS_TABLE_1: tuple[Row, ...] = (
    (2, 120, 0.2344),
    (2, 157, 0.3066),
    (2, 193, 0.3770),
    (2, 251, 0.4902),
    (2, 308, 0.6016),
    (2, 379, 0.7402),
    (2, 449, 0.8770),
    (2, 526, 1.0273),
    (2, 602, 1.1758),
    (2, 679, 1.3262),
    (4, 340, 1.3281),
    (4, 378, 1.4766),
    (4, 434, 1.6953),
    (4, 490, 1.9141),
    (4, 553, 2.1602),
    (4, 616, 2.4063),
    (4, 658, 2.5703),
    (6, 438, 2.5664),
    (6, 466, 2.7305),
    (6, 517, 3.0293),
    (6, 567, 3.3223),
    (6, 616, 3.6094),
    (6, 666, 3.9023),
    (6, 719, 4.2129),
    (6, 772, 4.5234),
    (6, 822, 4.8164),
    (6, 873, 5.1152),
    (6, 910, 5.3320),
    (6, 948, 5.5547),
)

MCS_TABLE_2: tuple[Row, ...] = (
    (2, 120, 0.2344),
    (2, 193, 0.3770),
    (2, 308, 0.6016),
    (2, 449, 0.8770),
    (2, 602, 1.1758),
    (4, 378, 1.4766),
    (4, 434, 1.6953),
    (4, 490, 1.9141),
    (4, 553, 2.1602),
    (4, 616, 2.4063),
    (4, 658, 2.5703),
    (6, 466, 2.7305),
    (6, 517, 3.0293),
    (6, 567, 3.3223),
    (6, 616, 3.6094),
    (6, 666, 3.9023),
    (6, 719, 4.2129),
    (6, 772, 4.5234),
    (6, 822, 4.8164),
    (6, 873, 5.1152),
    (8, 682.5, 5.3320),
    (8, 711, 5.5547),
    (8, 754, 5.8906),
    (8, 797, 6.2266),
    (8, 841, 6.5703),
    (8, 885, 6.9141),
    (8, 916.5, 7.1602),
    (8, 948, 7.4063),
)

#: CQI 1 .. 15 (index 0 of the tuple is CQI 1).
CQI_TABLE_1: tuple[Row, ...] = (
    (2, 78, 0.1523),
    (2, 120, 0.2344),
    (2, 193, 0.3770),
    (2, 308, 0.6016),
    (2, 449, 0.8770),
    (2, 602, 1.1758),
    (4, 378, 1.4766),
    (4, 490, 1.9141),
    (4, 616, 2.4063),
    (6, 466, 2.7305),
    (6, 567, 3.3223),
    (6, 666, 3.9023),
    (6, 772, 4.5234),
    (6, 873, 5.1152),
    (6, 948, 5.5547),
)

CQI_TABLE_2: tuple[Row, ...] = (
    (2, 78, 0.1523),
    (2, 193, 0.3770),
    (2, 449, 0.8770),
    (4, 378, 1.4766),
    (4, 490, 1.9141),
    (4, 616, 2.4063),
    (6, 466, 2.7305),
    (6, 567, 3.3223),
    (6, 666, 3.9023),
    (6, 772, 4.5234),
    (6, 873, 5.1152),
    (8, 711, 5.5547),
    (8, 797, 6.2266),
    (8, 885, 6.9141),
    (8, 948, 7.4063),
)

#: The MCS and CQI tables that go together, by the name a link model gives as ``mcs_table``
#: (the names of the RRC parameter ``mcs-Table``, TS 38.331).
TABLES: dict[str, tuple[tuple[Row, ...], tuple[Row, ...]]] = {
    "qam64": (MCS_TABLE_1, CQI_TABLE_1),
    "qam256": (MCS_TABLE_2, CQI_TABLE_2),
}

#: OFDM symbols per slot with the normal cyclic prefix (TS 38.211 §4.3.2).
SYMBOLS_PER_SLOT = 14
#: Subcarriers per resource block (TS 38.211 §4.4.4.1).
SUBCARRIERS_PER_PRB = 12
