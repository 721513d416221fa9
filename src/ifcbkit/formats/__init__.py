"""The IFCB file formats as pure functions over bytes: identifiers, ``.hdr``, ``.roi``, the ADC index and
its column-wise table, stitching and a bin's images, and the products' files (blobs, features, class
scores). The ``.adc`` line parser stays in :mod:`ifcbkit.adc`, its 0.3.1 path: code written for 0.3.1
patches that module's column tables and expects every reader to follow."""
