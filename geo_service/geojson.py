"""RFC 7946 GeoJSON documents of store features, as byte chunks ready to stream."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from .store.base import Feature, KeptPage
from .store.feature_json import feature_member, geometry_json, written_batch

CHUNK_FEATURES = 500


def feature_document(feature: Feature, extra: dict[str, Any]) -> bytes:
    (geometry,) = geometry_json([feature])
    return orjson.dumps(feature_member(feature, geometry) | extra)


def written_batches(features: Sequence[Feature]) -> Iterator[bytes]:
    """The features' members, written a batch at a time as the chunks are sent."""
    for start in range(0, len(features), CHUNK_FEATURES):
        yield written_batch(features[start : start + CHUNK_FEATURES])


def kept_batches(page: KeptPage) -> Iterator[bytes]:
    """The members a store kept written, joined a batch at a time."""
    for start in range(0, len(page.members), CHUNK_FEATURES):
        yield b",".join(page.members[start : start + CHUNK_FEATURES])


def feature_collection(batches: Iterable[bytes], members: dict[str, Any]) -> Iterator[bytes]:
    """A FeatureCollection in chunks: header, the batches of comma-separated Feature members,
    then `members`."""
    yield b'{"type":"FeatureCollection","features":['
    for number, batch in enumerate(batches):
        yield (b"," if number else b"") + batch
    yield b"]," + orjson.dumps(members)[1:]
