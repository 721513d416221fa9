"""The IFCB file formats as pure functions over bytes: identifiers, ``.hdr``, ``.adc``, ``.roi``,
the ADC index, stitching and a bin's images, and the products' files (blobs, features, class scores)."""
