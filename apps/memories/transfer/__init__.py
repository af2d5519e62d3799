"""Export and import of a whole space as JSON Lines.

An export is a stream of JSON objects, one per line: a header naming the format,
then the space's episodes, its memories (each with its full version history and
its source episodes), its links and its entities (each with its mentions). Every
reference points to a row on an earlier line, so an import reads the file once and
translates ids through the rows it has already written.

An import gives every row a new id (the originals may still live in this
database), keeps timestamps, version history, access counts and strength, and
writes one audit event per imported row. Embeddings are never exported: they are
derived data, recomputed by the embedding job once the import has committed.

The modules, in the order a line meets them: `schema` (the format), `export`;
then `reader` (a line's JSON and fields), `records` (what each line type becomes),
`ids` (old ids to new), `importer` (batches and savepoints) and `report`. The rows
are written by the domain layer's `services.restore`.
"""

from apps.memories.transfer.export import export_space
from apps.memories.transfer.importer import import_lines
from apps.memories.transfer.report import ImportLineError, ImportReport
from apps.memories.transfer.schema import FORMAT, FORMAT_VERSION

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ImportLineError",
    "ImportReport",
    "export_space",
    "import_lines",
]
