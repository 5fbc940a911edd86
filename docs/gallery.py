"""Gallery of the synthetic demo sky: six galaxies of each kind (README figure).

Usage: ``.venv/bin/python docs/gallery.py`` -> docs/images/synthetic_gallery.jpg
Galaxies are drawn from the demo sky's catalogue (seed 42) above its median S/N.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from morph_core.data.synthetic import SurveySpec, make_catalog  # noqa: E402
from morph_core.data.synthetic.render import render_galaxy  # noqa: E402

PER_ROW, SIZE, LABEL = 6, 128, 150
KINDS = {
    "elliptical": lambda c: c["morphology"] == "elliptical",
    "lenticular": lambda c: c["morphology"] == "lenticular",
    "spiral": lambda c: (c["morphology"] == "spiral") & (c["bar"] == "none"),
    "barred spiral": lambda c: (c["morphology"] == "spiral") & (c["bar"] == "strong"),
    "edge-on": lambda c: (c["morphology"] == "edge_on") & ~c["dust_lane"],
    "dust lane": lambda c: c["dust_lane"],
    "ring": lambda c: c["ring"],
    "lensed arc": lambda c: c["lens"],
    "merger": lambda c: c["merging"] == "merger",
    "disturbed": lambda c: c["merging"] == "major-disturbance",
    "irregular": lambda c: c["morphology"] == "irregular",
    "overlapping": lambda c: c["overlapping"],
    "artefact": lambda c: c["morphology"] == "artifact",
}


def main() -> None:
    catalog = make_catalog(SurveySpec())
    bright = catalog[catalog["snr"] > catalog["snr"].median()]
    canvas = Image.new("RGB", (LABEL + PER_ROW * SIZE, len(KINDS) * SIZE), "white")
    draw = ImageDraw.Draw(canvas)
    rng = np.random.default_rng(0)
    for row, (kind, select) in enumerate(KINDS.items()):
        chosen = bright[select(bright)]
        picks = chosen.iloc[rng.permutation(len(chosen))[:PER_ROW]]
        draw.text((8, row * SIZE + SIZE // 2 - 6), kind, fill="black")
        for col, (_, galaxy) in enumerate(picks.iterrows()):
            image = Image.fromarray(render_galaxy(galaxy.to_dict(), SIZE))
            canvas.paste(image, (LABEL + col * SIZE, row * SIZE))
    out = ROOT / "docs" / "images" / "synthetic_gallery.jpg"
    canvas.save(out, quality=85)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
