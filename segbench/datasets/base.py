"""The dataset adapter protocol, :class:`DatasetSpec` and prediction sources.

An adapter reads one dataset in its *native* layout and yields :class:`~segbench.types.Sample`
objects with typed targets in train ids (``ignore_index`` 255); the original ids stay in the
:class:`~segbench.types.LabelSpace` for export. It also knows the prediction format its metrics read
(:meth:`DatasetAdapter.predictions`) and can write a *fake twin* of its native layout for tests
(:meth:`DatasetAdapter.make_fake`).

Adapters are picklable (they hold paths and small indexes), so the engine can send them to worker
processes or Dask workers and load samples there by id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

from ..errors import NotFoundError
from ..types import LabelSpace, Sample

__all__ = ["DatasetSpec", "DatasetAdapter", "PredictionSource", "ManifestFile"]


@dataclass(frozen=True)
class ManifestFile:
    """One file of a dataset's download manifest."""

    name: str
    url: str | None = None
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    extract: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    """Static description of a dataset (mirrors its card in ``dataset_cards/``).

    Attributes
    ----------
    name : str
        Registry name (``cityscapes``).
    version : str
        Dataset version recorded in every RunRecord as ``name@version``.
    task : str
        ``semantic``, ``binary``, ``instance``, ``panoptic``, ``boundary``, ``video``, ``multilabel``...
    splits : dict of str to int
        Split name → number of samples (0 when unknown).
    default_split : str
    default_metrics : tuple of str
        Metric registry names used when ``--metrics`` is not given.
    license, citation, homepage : str
    obtain : str
        ``url`` | ``kaggle`` | ``login`` | ``manual``.
    files : tuple of ManifestFile
    """

    name: str
    version: str
    task: str
    splits: dict = field(default_factory=dict)
    default_split: str = "val"
    default_metrics: tuple = ()
    license: str = ""
    citation: str = ""
    homepage: str = ""
    obtain: str = "manual"
    files: tuple = ()
    size: str = ""

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


class PredictionSource:
    """Where predictions come from: a user's folder/file, or a model run on the fly.

    Subclasses implement :meth:`load`; :meth:`files` (for the fingerprint) and :meth:`available`
    (ids that have a prediction) when they read files.
    """

    path: str | None = None
    #: ``"void"`` when the run scores absent predictions as all-void (``--missing void``; set by
    #: :func:`segbench.engine.evaluate_run`). Sources that find absence only while reading (e.g. a
    #: missing frame of a video) consult it; the default refuses.
    missing: str = "error"

    def load(self, sample: Sample):  # pragma: no cover - abstract
        """Return the prediction for ``sample`` (a Prediction type from :mod:`segbench.types`)."""
        raise NotImplementedError

    def available(self) -> set | None:
        """Ids that have a prediction, or None when unknown (model sources)."""
        return None

    def files(self) -> list:
        """Files read, for the RunRecord's fingerprint."""
        return []

    def describe(self) -> dict:
        """Model / source description for the RunRecord's ``model`` field.

        A folder written by ``segbench predict`` carries ``segbench-predict.json``; its model
        description (name, reference, weights sha256, settings) is used then (for a file, the
        manifest of the folder it is in).
        """
        if self.path and Path(self.path).exists():
            from ..models.predict import read_predict_manifest
            p = Path(self.path)
            model = read_predict_manifest(p if p.is_dir() else p.parent)
            if model:
                return dict(model)
        return self.user_description()

    def user_description(self) -> dict:
        """The ``model`` field for predictions segbench did not write (no ``segbench-predict.json``);
        sources override this to add what they know (format, counts)."""
        return {"name": Path(self.path).name if self.path else "predictions", "source": "user predictions"}


class DatasetAdapter:
    """Base class of dataset adapters.

    Subclasses set ``spec`` and implement :meth:`label_space`, :meth:`sample_ids`, :meth:`load`,
    :meth:`predictions` and :meth:`make_fake`.

    Parameters
    ----------
    root : path
        The dataset's root folder in its native layout (for styles: the GT folder or file).
    split : str, optional
        Defaults to ``spec.default_split``.
    **options
        Adapter-specific options.
    """

    spec: ClassVar[DatasetSpec]

    def __init__(self, root, split: str | None = None, **options: Any):
        self.root = Path(root) if root is not None else None
        self.split = split or self.spec.default_split
        self.options = dict(options)

    # ---- protocol
    def label_space(self) -> LabelSpace | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample_ids(self) -> list[str]:  # pragma: no cover - abstract
        """Ids of the split's samples, in a stable order."""
        raise NotImplementedError

    def load(self, sample_id: str) -> Sample:  # pragma: no cover - abstract
        raise NotImplementedError

    def predictions(self, path, **options) -> PredictionSource:  # pragma: no cover - abstract
        """The reader of predictions in the format this dataset's metrics read."""
        raise NotImplementedError

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, **options) -> Path:  # pragma: no cover
        """Write a fake twin of the native layout under ``root`` and return the dataset root."""
        raise NotImplementedError

    # ---- helpers
    def __iter__(self):
        for sid in self.sample_ids():
            yield self.load(sid)

    def __len__(self) -> int:
        return len(self.sample_ids())

    #: Options the adapter reads (``--option KEY=VALUE``); None = not declared. Unknown keys are reported.
    option_names: ClassVar[tuple | None] = None

    def require_root(self) -> Path:
        """Raise the standard not-found error when the root is missing."""
        if self.root is None or not self.root.exists():
            raise NotFoundError(
                f"{self.spec.name} not found at {self.root}; run `segbench download {self.spec.name} "
                f"--root DIR` (or pass --gt pointing at the dataset root)")
        return self.root

    def default_metrics(self) -> tuple:
        return self.spec.default_metrics

    def metric_options(self, metric_name: str) -> dict:
        """Options this dataset passes to metric ``metric_name`` (e.g. COCO's ``iou_type``)."""
        return {}

    def build_metrics(self, names: Sequence[str] | None = None, options: dict | None = None) -> list:
        """Metrics by registry name (default: the dataset's), built on its label space.

        ``options`` maps a metric name to extra options (``--metric-option``) laid over the dataset's
        :meth:`metric_options`; naming a metric that is not built is an error.
        """
        from ..errors import UsageError
        from ..metrics import get_metric
        names = list(names) if names else list(self.default_metrics())
        options = dict(options or {})
        unused = [m for m in options if m not in names]
        if unused:
            raise UsageError(f"--metric-option names {', '.join(map(repr, unused))}, which this run does not "
                             f"compute (metrics: {', '.join(names)}); add it to --metrics or fix the name")
        ls = self.label_space()
        return [get_metric(n, ls, **{**self.metric_options(n), **options.get(n, {})}) for n in names]

    def describe(self) -> dict:
        return {"name": self.spec.name, "version": self.spec.version, "task": self.spec.task,
                "split": self.split, "root": str(self.root) if self.root else None}
