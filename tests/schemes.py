"""The bundled Pakistan-Afghanistan scheme, for tests that exercise it."""

from stance.resources import bundled_scheme

PAK = bundled_scheme("pak_afghan")
LABELS: tuple[str, ...] = tuple(PAK.label_list)
SIDES: tuple[str, ...] = tuple(PAK.side_names)
