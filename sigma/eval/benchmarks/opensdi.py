"""OpenSDI / OpenSDID (Wang et al., CVPR 2025): Megalith-10M photos, fully generated ("full") or
locally inpainted ("partial") by SD1.5, SD2.1, SDXL, SD3 and Flux.1; no text instruction.

Published as HF parquet (nebula/OpenSDI_train, nebula/OpenSDI_test; iamwangyabin/OpenSDI README)
with columns ``key`` (e.g. ``partial/sd15/fake/000651821.jpg``), ``image``, ``mask``, ``label`` and
one split per generator. The authors announced the individual files for later, so this loader reads
the parquet exported to files under their keys, the mask beside the image in a ``mask`` folder::

    [<anything>/]partial/<model>/fake/<id>.jpg    edited image (the parquet ``image`` of that key)
    [<anything>/]partial/<model>/mask/<id>.png    its ground-truth mask (the row's ``mask``)
    [<anything>/]partial/<model>/real/<id>.jpg    authentic original, when present
    (export: for each row, save image to <key> and mask to <key> with fake/ -> mask/, .png)

``masks``/``gt`` folder names and other extensions are accepted. The original is the ``real`` image
with the same id under the same model (``partial`` first, then ``full``); whether OpenSDI ships the
inpainted photo's source under the same id is not documented, so a missing original is yielded as
the expected ``partial/<model>/real/<id>.jpg`` path and rejected downstream. ``full`` images have no
mask and are skipped. ``edit_type`` is not given by the layout. Confidence: keys high, export low.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sigma.data.pairs import EditPair
from sigma.eval.benchmarks.base import register_benchmark
from sigma.eval.benchmarks.layout import absolute_root, is_image, layout_error, list_root, make_pair, stem

NAME = "opensdi"
EXPECTED = "partial/<model>/fake/<id>.jpg with partial/<model>/mask/<id>.png (HF parquet keys exported to files)"
_KEY = re.compile(
    r"^(?P<base>(?:.*/)?)(?P<subset>partial|full)/(?P<model>[^/]+)/"
    r"(?P<kind>fake|real|mask|masks|gt)/(?P<name>[^/]+)$",
    re.IGNORECASE,
)


@register_benchmark(NAME)
def load_opensdi(root: str) -> Iterator[EditPair]:
    root = absolute_root(root)
    files = list_root(root, NAME, EXPECTED)
    index: dict[tuple[str, str, str, str, str], str] = {}
    for rel in filter(is_image, files):
        if m := _KEY.match(rel):
            kind = "mask" if m["kind"].lower() in ("mask", "masks", "gt") else m["kind"].lower()
            index.setdefault((m["base"], m["subset"].lower(), m["model"], kind, stem(rel)), rel)
    fakes = sorted((k, rel) for k, rel in index.items() if k[1] == "partial" and k[3] == "fake")
    if not fakes:
        raise layout_error(NAME, root, EXPECTED)
    return _pairs(root, index, fakes)


def _pairs(root, index, fakes) -> Iterator[EditPair]:
    for (base, _, model, _, name), fake in fakes:
        mask = index.get((base, "partial", model, "mask", name))
        if mask is None:
            continue  # no ground-truth mask
        original = index.get((base, "partial", model, "real", name)) or index.get(
            (base, "full", model, "real", name), f"{base}partial/{model}/real/{name}.jpg"
        )
        yield make_pair(NAME, root, f"{NAME}/{base}{model}/{name}", original, fake, mask, "", generator=model)
