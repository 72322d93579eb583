"""Tests of the firmware bridge: codec, serial lines on ptys, the bridge process, the demo."""
