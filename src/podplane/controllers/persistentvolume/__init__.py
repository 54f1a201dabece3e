"""PersistentVolume controller package (upstream `pkg/controller/volume/persistentvolume`).

- `controller`: informers, handlers, claim and volume syncs, the default StorageClass;
  `new(ctx)` is what the manager calls;
- `binding`: pure matching of claims to volumes and the annotations binding writes;
- `localpath`: the built-in `podplane.io/local-path` provisioner's StorageClass and volumes.
"""

from podplane.controllers.persistentvolume.controller import RESYNC_PERIOD, PersistentVolumeController, new

__all__ = ["PersistentVolumeController", "RESYNC_PERIOD", "new"]
