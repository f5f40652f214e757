"""Lucene through Pyserini/Anserini: the only layer that starts or configures a JVM.

Importing this package is cheap; the JVM starts on the first call that needs it
(:func:`esplade_eval.lucene.java.start`).
"""
