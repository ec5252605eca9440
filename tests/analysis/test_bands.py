"""The band edges are the only place the figures' names and the table's headers come from."""

from __future__ import annotations

import dataclasses

from seqdown.analysis import ALIAS_EDGES, PASSBAND_EDGES, Measurement
from seqdown.analysis.bands import alias_key, edge_label, passband_key
from seqdown.cli.analyze import _COLUMNS


def test_measurement_fields_follow_the_edges():
    names = {field.name for field in dataclasses.fields(Measurement)}
    expected = {*(passband_key(edge) for edge in PASSBAND_EDGES),
                *(alias_key(edge) for edge in ALIAS_EDGES), alias_key(ALIAS_EDGES[0], "dc")}
    assert expected <= names
    band_fields = {name for name in names if "pct_nyquist" in name}
    assert band_fields == expected


def test_table_columns_follow_the_edges():
    headers = [header for header, _, _ in _COLUMNS]
    for edge in PASSBAND_EDGES:
        assert f"pass<={edge_label(edge)}" in headers
    for edge in ALIAS_EDGES:
        assert f"alias>={edge_label(edge)}" in headers
    assert [edge_label(edge) for edge in (0.8, 1.0, 1.1, 1.25)] == ["0.8", "1.0", "1.1", "1.25"]
