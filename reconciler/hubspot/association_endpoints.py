"""Associations between records (v4 batches) and their labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.errors import ApiError
from reconciler.hubspot.endpoints import Endpoints
from reconciler.hubspot.records import (
    BATCH_LIMIT,
    AnswerShapeError,
    AssociationLabel,
    BatchItemError,
    association_errors_from_api,
    associations_from_api,
    label_from_api,
    results_list,
)


class AssociationEndpoints(Endpoints):
    """``/crm/associations`` (v4 and the dated versions)."""

    def associate(
        self, from_type: str, to_type: str, pairs: Sequence[tuple[str, str, str, int]]
    ) -> None:
        """Create associations ``(from_id, to_id, category, type_id)`` (v4 batch create).

        Associating twice is harmless, so this is retried like a read. Raises ApiError
        if HubSpot refused any pair (a 207), naming every refusal.
        """
        path = f"{self.paths.associations(from_type, to_type)}/batch/create"
        self._write_batches(path, _association_inputs(pairs), refusals_raise=True)

    def dissociate(
        self,
        from_type: str,
        to_type: str,
        pairs: Sequence[tuple[str, str, str, int]],
        *,
        all_types: bool = False,
    ) -> None:
        """Remove the association types given (batch/labels/archive), or with
        ``all_types`` every association between each pair (batch/archive)."""
        base = self.paths.associations(from_type, to_type)
        if all_types:
            by_from: dict[str, list[dict[str, str]]] = {}
            for from_id, to_id, _category, _type_id in pairs:
                targets = by_from.setdefault(str(from_id), [])
                if {"id": str(to_id)} not in targets:
                    targets.append({"id": str(to_id)})
            archive = [{"from": {"id": f}, "to": t} for f, t in by_from.items()]
            self._write_batches(f"{base}/batch/archive", archive, refusals_raise=False)
            return
        path = f"{base}/batch/labels/archive"
        self._write_batches(path, _association_inputs(pairs), refusals_raise=True)

    def _write_batches(
        self, path: str, inputs: Sequence[dict[str, Any]], *, refusals_raise: bool
    ) -> None:
        """POST ``inputs`` to ``path`` in batches of ``BATCH_LIMIT``. With
        ``refusals_raise``, the first batch HubSpot refused part of (a 207) raises
        ApiError before the next batch is sent; without it, refusals are ignored."""
        for start in range(0, len(inputs), BATCH_LIMIT):
            errors = self._call(
                "POST", path, association_errors_from_api,
                json={"inputs": inputs[start : start + BATCH_LIMIT]}, kind="write",
            )
            if refusals_raise:
                _raise_batch_errors(errors, "POST", path)

    def read_associations(
        self, from_type: str, to_type: str, ids: Sequence[str]
    ) -> dict[str, tuple[tuple[str, int], ...]]:
        """``from_id -> ((to_id, type_id), ...)``; ids without associations are absent."""
        path = f"{self.paths.associations(from_type, to_type)}/batch/read"
        found: dict[str, list[tuple[str, int]]] = {}
        todo: list[dict[str, str]] = [{"id": str(i)} for i in dict.fromkeys(ids)]
        while todo:
            batch, todo = todo[:BATCH_LIMIT], todo[BATCH_LIMIT:]
            asked = {item["id"] for item in batch}

            def parse(
                data: Any, asked: set[str] = asked  # this batch's, bound now
            ) -> list[tuple[str, list[tuple[str, int]], str | None]]:
                results = associations_from_api(data)
                for from_id, _pairs, _after in results:
                    if from_id not in asked:
                        raise AnswerShapeError(
                            f"it answers for {from_id}, which was not asked for"
                        )
                return results

            for from_id, pairs_found, after in self._call(
                "POST", path, parse, json={"inputs": batch}
            ):
                pairs = found.setdefault(from_id, [])
                pairs.extend(pair for pair in pairs_found if pair not in pairs)
                if after:
                    todo.append({"id": from_id, "after": after})
            # 207 errors here mean "no associations" for those ids: nothing to add.
        return {from_id: tuple(pairs) for from_id, pairs in found.items() if pairs}

    def association_labels(self, from_type: str, to_type: str) -> list[AssociationLabel]:
        return self._call(
            "GET", self.paths.association_labels(from_type, to_type),
            lambda data: [
                label_from_api(item, f"results[{n}]") for n, item in enumerate(results_list(data))
            ],
        )

def _association_inputs(pairs: Sequence[tuple[str, str, str, int]]) -> list[dict[str, Any]]:
    by_pair: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for from_id, to_id, category, type_id in pairs:
        types = by_pair.setdefault((str(from_id), str(to_id)), [])
        spec = {"associationCategory": category, "associationTypeId": int(type_id)}
        if spec not in types:
            types.append(spec)
    return [
        {"from": {"id": f}, "to": {"id": t}, "types": types} for (f, t), types in by_pair.items()
    ]


def _raise_batch_errors(errors: Sequence[BatchItemError], method: str, path: str) -> None:
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ApiError(207, first.message + more, category=first.category, method=method, path=path)


