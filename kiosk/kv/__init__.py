"""Kivy rule files, one per screen (a package so that wheels carry them)."""
