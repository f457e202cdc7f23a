// The H5 layer (dynamic/h5): being built; see h5_manifest.h for the manifest.
