"""Desktop photo retouching: a headless core (`desktop_app.core`) and a Qt shell (`desktop_app.gui`)."""

__version__ = "0.1.0"
APP_NAME = "PhotoRetouch"
ORG_NAME = "PhotoRetouch"
