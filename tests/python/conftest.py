# Shared setup for the Python tests: the typelib and library come from the
# build tree (meson test sets GI_TYPELIB_PATH and LD_LIBRARY_PATH).
import gi

gi.require_version("Orrery", "1.0")
