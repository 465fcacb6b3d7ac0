"""One flash attempt, over esptool's Python API: the pipeline (``pipeline``) and its
result types (``result``), the images (``images``), the production steps around the write
(``capacity``, ``backups``, ``identity``, ``sdklayout``, ``bootcheck``), esptool's logger
routed per socket (``esplog``), and every use of esptool's private names
(``esptool_internals``)."""
