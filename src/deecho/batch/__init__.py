"""Many files through the one job path: `deecho batch`.

    items = find_items([folder], outdir)                  # inputs: files, folders, a manifest
    with BatchRun(outdir, settings) as batch:             # lock, state file, executor
        for outcome in batch.run(items): ...

Each file goes through `deecho.backends.job.run_job` in a worker (`work.run_item`), on a
`concurrent.futures.Executor` (`deecho.executors`): a process pool here, a Dask cluster's
executor with a scheduler address, or threads for a remote backend.
"""

from deecho.batch.inputs import BatchItem, find_items, read_manifest
from deecho.batch.outcome import PROCESS_FIELDS, BatchStatus, Outcome
from deecho.batch.run import BatchRun, BatchSettings

__all__ = [
    "PROCESS_FIELDS",
    "BatchItem",
    "BatchRun",
    "BatchSettings",
    "BatchStatus",
    "Outcome",
    "find_items",
    "read_manifest",
]
