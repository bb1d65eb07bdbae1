"""Readers and writers of file formats. No module here knows about a dataset."""
