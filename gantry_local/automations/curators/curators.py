"""`Curator`: a definition (Gantry 0.6's names, arguments and defaults) and its lifecycle.

A curator samples each interval of an application's records into a versioned dataset.
Its definition lives in the workspace's DuckDB file, so any process runs it; the SQL is
in `._sampling`, the stock curators in `.stock_curators`. The rows picked for an
interval depend only on the data and on (curator's first name, interval start).

Ours, after Gantry's arguments: ``only_labelled`` (pick only records with feedback) and
``min_labelled_share`` / ``max_label_wait`` (wait for late labels before curating).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from ..._context import narrow, narrow_or_default
from ..._limits import check_bool, check_moment, check_number, check_span
from ..._names import check_name
from ...clock import to_utc
from ...errors import AlreadyExistsError, IntegrityError, NotFoundError, ValidationError
from .._registry import BrokenDefinition, CuratorRow, Registry
from . import _sampling
from ._definitions import curator_to_json, read_definition
from .selectors import Selector, StratifiedSampler

if TYPE_CHECKING:
    from ..._context import Context, HasContext, WorkspaceLike
    from ...datasets import Dataset
    from .models import CuratorInfo

__all__ = ["CurationResult", "Curator"]

log = logging.getLogger("gantry_local.automations")

_ID_SPACE = uuid.UUID("6f1d8a52-6c0e-4f0b-9a57-2a1c3e5d7b90")  # curator ids: uuid5 in it
DEFAULT_LABEL_WAIT = timedelta(days=7)
LABEL_RECHECK = timedelta(minutes=1)  # how often a waiting interval's labels are counted


class _LabelChecks(dict[tuple[str, datetime], datetime]):
    """Per workspace: when each waiting (curator, interval) last counted too few labels."""


@dataclass(frozen=True)
class CurationResult:
    """One curator run over one interval (`labelled_rows`: picked rows holding feedback)."""

    curator: str
    interval_start: datetime
    interval_end: datetime
    rows_in_interval: int
    rows_selected: int
    version_id: str | None
    message: str
    labelled_rows: int = 0


def _selectors(value: object, what: str) -> list[Selector]:
    chosen = list(value) if isinstance(value, (list, tuple)) else []
    if not chosen or not all(isinstance(s, Selector) for s in chosen):
        raise ValidationError(f"{what} must be a non-empty list of Selector objects, e.g. "
                              "[Selector(method=UniformSampler(), limit=100)]")
    return chosen


def _share(value: object) -> float | None:
    if value is None:
        return None
    return check_number(value, "min_labelled_share", 1e-9, 1.0)


class Curator:
    """Samples each interval of an application's records into a dataset (Gantry 0.6).

    Args:
        name: the curator's name (also its dataset's, unless `curated_dataset_name`).
        application_name: the application whose records are curated.
        api_client: Gantry's HTTP client; there is no server here: leave it None.
        id: set on stored curators (`get_curator`, `from_curator_info`).
        curated_dataset_name: the dataset the versions go to (default: `name`).
        start_on: the first interval's start (naive means UTC); None: the current interval.
        curation_interval: interval length (1 second to 3,660 days).
        curation_delay: how long after an interval ends it is curated.
        curate_past_intervals: backfill from `start_on` when it lies in the past.
        created_at: set on stored curators.
        selectors: the selection (an OR of `Selector`s), required.
        only_labelled: pick only records holding a feedback value (ours).
        min_labelled_share: wait until this share (0 to 1) of the interval's records hold
            feedback before curating it (ours; None: do not wait).
        max_label_wait: curate anyway this long after the interval was due (ours).

    Raises:
        ValidationError: any bad argument, at definition time.
    """

    def __init__(
        self,
        name: str,
        application_name: str,
        api_client: Any = None,
        id: uuid.UUID | str | None = None,  # Gantry's name
        curated_dataset_name: str | None = None,
        start_on: datetime | None = None,
        curation_interval: timedelta = timedelta(days=1),
        curation_delay: timedelta = timedelta(days=0),
        curate_past_intervals: bool = True,
        created_at: datetime | None = None,
        selectors: list[Selector] | None = None,
        *,
        only_labelled: bool = False,
        min_labelled_share: float | None = None,
        max_label_wait: timedelta = DEFAULT_LABEL_WAIT,
    ) -> None:
        if api_client is not None:
            raise ValidationError(
                f"api_client is Gantry's HTTP client and gantry-local has no server: leave it "
                f"None (got {type(api_client).__name__}; a Curator takes no limit: set it on "
                "each Selector, or use a stock curator such as UniformCurator)")
        self.name = check_name(name, "curator name")
        self.application_name = check_name(application_name, "application name")
        self._id = None if id is None else _uuid(id)
        self.curated_dataset_name = check_name(
            name if curated_dataset_name is None else curated_dataset_name, "dataset name")
        self.start_on = None if start_on is None else check_moment(start_on, "start_on")
        self.curation_interval = check_span(curation_interval, "curation_interval")
        self.curation_delay = check_span(curation_delay, "curation_delay", zero=True)
        self.curate_past_intervals = check_bool(curate_past_intervals, "curate_past_intervals")
        self._created_at = None if created_at is None else check_moment(created_at, "created_at")
        self.selectors = _selectors(selectors, "selectors")
        self.only_labelled = check_bool(only_labelled, "only_labelled")
        self.min_labelled_share = _share(min_labelled_share)
        self.max_label_wait = check_span(max_label_wait, "max_label_wait", zero=True)
        self.kind = type(self).__name__
        self.former_names: tuple[str, ...] = ()  # earlier names, oldest first (see `update`)
        # Set once the definition is stored (create / add_automation / get_curator):
        self._context: Context | None = None
        self.enabled = False
        self.first_interval_start: datetime | None = None
        self.automation_name: str | None = None

    def __repr__(self) -> str:
        return (f"{self.kind}(name={self.name!r}, curated_dataset_name="
                f"{self.curated_dataset_name!r}, application_name={self.application_name!r}, "
                f"start_on={self.start_on}, curation_interval={self.curation_interval}, "
                f"curate_past_intervals={self.curate_past_intervals}, "
                f"selectors={self.selectors})")

    @property
    def workspace(self) -> HasContext | None:
        """The workspace the curator is stored in (None before `create`), as the user passed
        it (the room itself keeps only that workspace's context)."""
        return None if self._context is None else self._context.owner

    # -- Gantry's read-only facts -------------------------------------------------------------

    @property
    def id(self) -> uuid.UUID:
        """The stored curator's id (stable across renames).

        Raises:
            ValidationError: the curator has not been created yet.
        """
        if self._id is None:
            raise ValidationError(f"curator {self.name!r} has no id: it has not been created "
                                  "yet (call create() or add its automation)")
        return self._id

    @property
    def created_at(self) -> datetime:
        """When the curator was stored.

        Raises:
            ValidationError: the curator has not been created yet.
        """
        if self._created_at is None:
            raise ValidationError(f"curator {self.name!r} has not been created yet (call "
                                  "create() or add its automation)")
        return self._created_at

    @property
    def limit(self) -> int:
        """The rows its selectors ask for per interval (a stock curator's `limit`)."""
        return sum(s.limit for s in self.selectors)

    # -- definition, before it is stored --------------------------------------------------------

    def update_curation_start_on(self, start_on: datetime) -> None:
        """Set the start of the first interval (before `create`; a stored curator is
        changed with `update`)."""
        self.start_on = check_moment(start_on, "start_on")

    def update_curation_interval(self, curation_interval: timedelta) -> None:
        """Set the interval length (before `create`)."""
        self.curation_interval = check_span(curation_interval, "curation_interval")

    def update_curation_delay(self, curation_delay: timedelta) -> None:
        """Set how long after an interval ends it is curated (before `create`)."""
        self.curation_delay = check_span(curation_delay, "curation_delay", zero=True)

    def check(self, workspace: WorkspaceLike) -> None:
        """Refuse a definition that cannot run on its application as it is now: a stratified
        field the application logs with values that are not categories.

        Raises:
            NotFoundError: no such application.
            ValidationError: the stratified field holds numbers with fractions, times or lists.
        """
        logical = _sampling.logical_types(check_workspace(workspace), self.application_name)
        for selector in self.selectors:
            method = selector.method
            if not isinstance(method, StratifiedSampler):
                continue
            kind = logical.get(method.field)
            if kind is not None and kind not in _sampling.CATEGORY_TYPES:
                raise ValidationError(
                    f"curator {self.name!r} cannot stratify on {method.field!r}: application "
                    f"{self.application_name!r} logs it as {kind}; stratify on a field of "
                    "categories (text, integer, boolean)")

    # -- lifecycle (the definition lives in the workspace's DuckDB file) ----------------------

    def _registry(self, workspace: WorkspaceLike | None = None) -> CuratorRegistry:
        """The registry of `workspace`, else of the one it is stored in, else the default."""
        given = workspace if workspace is not None else self._context
        return CuratorRegistry(narrow_or_default(given))

    def _refresh(self, registry: CuratorRegistry) -> None:
        stored = registry.get(self.name)
        self._context = registry.context
        self.enabled = stored.enabled
        self.first_interval_start = stored.first_interval_start
        self.automation_name = stored.automation_name
        self._created_at = stored._created_at
        self._id = stored._id

    def create(self, enable: bool = True, workspace: WorkspaceLike | None = None) -> Curator:
        """Store this curator (default workspace unless given), create its dataset if
        missing, and by default turn it on: as in Gantry, creating it is enough, the
        workspace's background scheduler loop curates from then on (see `Workspace`'s
        ``background_scheduler``).

        Raises:
            AlreadyExistsError: a curator of that name exists.
            NotFoundError: its application does not exist.
            ValidationError: the definition does not fit the application (see `check`).
        """
        check_bool(enable, "enable")
        registry = self._registry(workspace)
        registry.create(self, enable)
        self._refresh(registry)
        if self.enabled:
            _start_background(registry.context)
        return self

    def _first_interval(self, now: datetime) -> datetime:
        """Where a new curator's intervals begin: `start_on`, and they step by the interval
        from there (a weekly curator started on a Monday runs Monday to Monday). Without
        `start_on`, Gantry's rule: start now, looking back one interval (whole seconds). With
        ``curate_past_intervals=False`` and `start_on` in the past, the interval of
        `start_on`'s grid that holds `now`."""
        interval, start = self.curation_interval, self.start_on
        if start is None:
            return now.replace(microsecond=0) - interval
        if not self.curate_past_intervals and start < now:
            return start + ((now - start) // interval) * interval
        return start

    def start(self) -> None:
        """Create the curator (Gantry's trigger for `Automation`)."""
        self.create()

    def stop(self) -> None:
        """Delete the curator (Gantry's trigger for `Automation`); its dataset stays."""
        self.delete()

    def enable(self) -> str:
        """Turn it on; intervals missed while it was off are curated on the next tick (of the
        background loop, which this starts when it is not running)."""
        registry = self._registry()
        registry.set_enabled(self.name, True)
        self._refresh(registry)
        _start_background(registry.context)
        return f"Curator {self.name} enabled"

    def disable(self) -> str:
        """Turn it off (its runs and dataset stay)."""
        registry = self._registry()
        registry.set_enabled(self.name, False)
        self._refresh(registry)
        return f"Curator {self.name} disabled"

    def delete(self) -> str:
        """Forget the curator and its run history (its dataset stays); returns Gantry's
        message naming the time. The object keeps its definition, without id."""
        registry = self._registry()
        stored = registry.get(self.name)
        registry.delete(self.name)
        self.enabled, self._id, self._created_at = False, None, None
        return f"Curator {self.name} ({stored._id}) deleted at {registry.context.clock.now()}"

    def update(
        self,
        new_curator_name: str | None = None,
        new_curated_dataset_name: str | None = None,
        new_curation_interval: timedelta | None = None,
        new_selectors: list[Selector] | None = None,
        create_new_dataset: bool = False,
    ) -> Curator:
        """Change a stored curator; intervals already curated keep their runs and versions.

        New selectors apply to intervals not yet curated. A rename keeps the run history,
        the id and the seed (a redo of an old interval picks the same rows). A new interval
        starts its grid where the last curated interval ended. Datasets live under their
        name in storage, so they are never renamed: ``create_new_dataset=True`` with
        ``new_curated_dataset_name`` sends future versions to a new dataset.

        Raises:
            ValidationError: nothing to change, or a bad new value.
            AlreadyExistsError: the new curator or dataset name is taken.
        """
        check_bool(create_new_dataset, "create_new_dataset")
        registry = self._registry()
        current = registry.get(self.name)
        changed = copy.copy(current)
        if new_selectors is not None:
            changed.selectors, changed.kind = _selectors(new_selectors, "new_selectors"), "Curator"
            changed.check(registry.context)
        if new_curation_interval is not None:
            changed.curation_interval = check_span(new_curation_interval,
                                                   "new_curation_interval")
        if new_curated_dataset_name is not None:
            check_name(new_curated_dataset_name, "dataset name")
            if not create_new_dataset:
                raise ValidationError(
                    f"datasets are stored under their name and are not renamed; to send future "
                    f"versions to a new dataset {new_curated_dataset_name!r}, pass "
                    "create_new_dataset=True (the old dataset keeps its versions)")
            if new_curated_dataset_name == current.curated_dataset_name:
                raise ValidationError(f"curator {self.name!r} already writes to dataset "
                                      f"{new_curated_dataset_name!r}")
            changed.curated_dataset_name = new_curated_dataset_name
        elif create_new_dataset:
            raise ValidationError("create_new_dataset=True needs new_curated_dataset_name")
        if new_curator_name is not None and new_curator_name != current.name:
            changed.name = check_name(new_curator_name, "curator name")
            changed.former_names = (*current.former_names, current.name)
        if changed.__dict__ == current.__dict__:
            raise ValidationError("update() needs something to change: a new name, dataset, "
                                  "interval or selectors")
        registry.update(current, changed)
        self.__dict__.update(changed.__dict__)
        self._refresh(registry)
        return self

    def get_curated_dataset(self) -> Dataset:
        """The dataset this curator appends to (made when the curator was created)."""
        registry = self._registry()
        return ensure_dataset(registry.context, self.curated_dataset_name, self.application_name)

    def get_runs(self) -> pl.DataFrame:
        """Run history: interval, status, rows in the interval and selected, version, error."""
        return self._registry().runs(self.name)

    @classmethod
    def from_curator_info(cls, api_client: Any, curator_info: CuratorInfo) -> Curator:
        """A curator from a `CuratorInfo` (Gantry's; `api_client` is ignored)."""
        from .models import CuratorInfo

        if not isinstance(curator_info, CuratorInfo):
            raise ValidationError(f"curator_info must be a CuratorInfo, got "
                                  f"{type(curator_info).__name__}")
        curator = cls.__new__(cls)
        Curator.__init__(curator, **curator_info.dict(shallow=True))
        return curator

    # -- selection ----------------------------------------------------------------------------

    def seed(self, interval_start: datetime) -> int:
        """The sampling seed of one interval: from the curator's first name and the start."""
        text = f"{(*self.former_names, self.name)[0]}|{to_utc(interval_start).isoformat()}".encode()
        return int.from_bytes(hashlib.sha256(text).digest()[:4], "big")

    def select(self, workspace: WorkspaceLike, start: datetime, end: datetime
               ) -> tuple[pa.Table, int]:
        """The rows this curator picks in ``[start, end)`` and how many rows the interval has.

        Raises:
            ValidationError: a selector names an unknown field, or stratifies a field whose
                values are not categories.
        """
        context = check_workspace(workspace)
        start, end = check_moment(start, "interval start"), check_moment(end, "interval end")
        if end <= start:
            raise ValidationError(f"interval end {end} is not after its start {start}")
        picked = _sampling.select(context, self.application_name, self.selectors,
                                  self.seed(start), start, end, self.only_labelled,
                                  f"curator {self.name!r}")
        return picked.table, picked.rows_in_interval

    def labels_ready(self, workspace: WorkspaceLike, start: datetime, now: datetime) -> bool:
        """Whether the interval starting at `start` may be curated at `now`: always, unless
        `min_labelled_share` asks to wait for feedback, until `max_label_wait` after it was
        due."""
        context = check_workspace(workspace)
        if self.min_labelled_share is None:
            return True
        end = start + self.curation_interval
        if now >= end + self.curation_delay + self.max_label_wait:
            return True
        checks = context.database.state(_LabelChecks)
        key = (self.name, start)
        last = checks.get(key)
        if last is not None and now - last < LABEL_RECHECK:
            return False  # counted not long ago: a tick every second does not count again
        labelled, total = _sampling.label_counts(context, self.application_name, start, end,
                                                 f"curator {self.name!r}")
        ready = total == 0 or labelled >= self.min_labelled_share * total
        if ready:
            checks.pop(key, None)
        else:
            checks[key] = now
        return ready

    def curate(self, workspace: WorkspaceLike, start: datetime, end: datetime) -> CurationResult:
        """Run once over ``[start, end)``: append the picked rows to the curated dataset.

        An interval with no rows picked makes no version. The version's message and
        lineage say how many picked rows hold feedback (`labelled_rows`).
        """
        context = check_workspace(workspace)
        table, total = self.select(context, start, end)
        start, end = to_utc(start), to_utc(end)
        labelled = _sampling.labelled_rows(table)
        message = (f"{table.num_rows:,} records added from interval {start:%Y-%m-%dT%H:%M} to "
                   f"{end:%Y-%m-%dT%H:%M} of {total:,} records by curator {self.name} "
                   f"({labelled:,} labelled)")
        if table.num_rows == 0:
            return CurationResult(self.name, start, end, total, 0, None, message)
        dataset = ensure_dataset(context, self.curated_dataset_name, self.application_name)
        lineage = {"curator": self.name, "application": self.application_name,
                   "interval_start": start.isoformat(), "interval_end": end.isoformat(),
                   "rows_in_interval": total, "rows_selected": table.num_rows,
                   "labelled_rows": labelled}
        info = dataset.append_dataframe(table, message=message, lineage=lineage)
        return CurationResult(self.name, start, end, total, table.num_rows, info["version_id"],
                              message, labelled)


def ensure_dataset(workspace: Context, name: str, application: str) -> Dataset:
    """The dataset `name`, created for `application` when missing."""
    try:
        return workspace.datasets.get_dataset(name)
    except NotFoundError:
        try:
            return workspace.datasets.create_dataset(name, app_name=application)
        except AlreadyExistsError:  # made meanwhile by another process
            return workspace.datasets.get_dataset(name)


def curator_id(first_name: str, created_at: datetime) -> uuid.UUID:
    """A stored curator's id: stable across renames (it derives from the first name)."""
    return uuid.uuid5(_ID_SPACE, f"{first_name}|{to_utc(created_at).isoformat()}")


def _uuid(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise ValidationError(f"id must be a UUID, got {value!r}")


def curator_from_json(text: str) -> Curator:
    """Rebuild a stored curator (as a plain `Curator` with the same selectors and settings)."""
    stored = read_definition(text)
    curator = Curator(**stored.arguments)
    curator.kind, curator.former_names = stored.kind, stored.former_names
    return curator


def _parse(name: str, definition: str) -> Curator:
    try:
        return curator_from_json(definition)
    except Exception as exc:  # anything a hand-edited or older definition can raise
        raise IntegrityError(
            f"the stored definition of curator {name!r} cannot be read "
            f"({type(exc).__name__}: {exc}); delete the curator and create it again") from exc


class CuratorRegistry(Registry):
    """The stored curators of one workspace, rebuilt as `Curator` objects from their rows."""

    def __init__(self, context: Context) -> None:
        super().__init__(context.database, context.clock)
        self.context = context
        self._parsed: dict[str, Curator] = {}  # definition JSON -> parsed curator

    def create(self, curator: Curator, enabled: bool, automation: str | None = None) -> None:
        """Store `curator` (checked against its application) and create its dataset."""
        self.context.app_state(curator.application_name)
        curator.check(self.context)
        now = self.clock.now()
        self.check_free(curator.name, automation)
        ensure_dataset(self.context, curator.curated_dataset_name, curator.application_name)
        self.insert(curator.name, curator.application_name, curator_to_json(curator), enabled,
                    curator._first_interval(now), automation, now)

    def get(self, name: str) -> Curator:
        """A stored curator.

        Raises:
            NotFoundError: no such curator.
            IntegrityError: its stored definition cannot be read.
        """
        return self._build(self.row(name))

    def _build(self, row: CuratorRow) -> Curator:
        template = self._parsed.get(row.definition)
        if template is None:
            template = self._parsed[row.definition] = _parse(row.name, row.definition)
        curator = copy.copy(template)  # definitions are immutable; per-call state is set below
        curator._context = self.context
        curator.enabled = row.enabled
        curator.first_interval_start = row.first_interval_start
        curator.automation_name = row.automation
        curator._created_at = row.created_at
        curator._id = curator_id((*curator.former_names, curator.name)[0], row.created_at)
        return curator

    def list(self, application_name: str | None = None,
             broken: list[BrokenDefinition] | None = None) -> list[Curator]:
        """Stored curators by name; one whose definition cannot be read is left out (and
        added to `broken` when given, else logged), so it never hides the others."""
        out = []
        for row in self.rows(application_name):
            try:
                out.append(self._build(row))
            except IntegrityError as exc:
                if broken is None:
                    log.warning("%s", exc)
                else:
                    broken.append(BrokenDefinition(row.name, row.application, row.automation,
                                                   exc))
        return out

    def update(self, current: Curator, changed: Curator) -> None:
        """Store `changed` in place of `current` (a rename carries the run history along)."""
        first = current.first_interval_start
        assert first is not None  # stored curators always have one
        if changed.curation_interval != current.curation_interval:
            first = self.last_end(current.name) or first  # the new grid starts there
        new_dataset = changed.curated_dataset_name != current.curated_dataset_name
        if new_dataset:
            try:
                self.context.datasets.get_dataset(changed.curated_dataset_name, include_deleted=True)
            except NotFoundError:
                pass
            else:
                raise AlreadyExistsError(f"dataset {changed.curated_dataset_name!r} already "
                                         "exists; choose a new name for create_new_dataset=True")
        self.replace(current.name, changed.name, curator_to_json(changed), first)
        if new_dataset:
            # made meanwhile by another process: the runs append to it
            with contextlib.suppress(AlreadyExistsError):
                self.context.datasets.create_dataset(changed.curated_dataset_name,
                                       app_name=changed.application_name)


def registry_of(workspace: object) -> CuratorRegistry:
    """The stored curators of `workspace` (the one way this package reaches the registry)."""
    return CuratorRegistry(check_workspace(workspace))


def check_workspace(workspace: object) -> Context:
    """The context of `workspace` (a Workspace, or its context), narrowed at the boundary."""
    return narrow(workspace)


def _start_background(context: Context) -> None:
    """Turn on the workspace's background scheduler loop, as its façade passed it in the
    context (a producer's context has none)."""
    if context.start_background is not None:
        context.start_background()
