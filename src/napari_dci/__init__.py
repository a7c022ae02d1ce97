"""napari plugin of dci-cnn: restore image layers from a dock widget."""
