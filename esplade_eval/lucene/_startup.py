"""Interpreter start-up hook, run from ``esplade_eval_java.pth`` in site-packages.

Imports only ``jnius_config`` (a small pure-Python module) and wraps its ``add_options``;
the Java runtime is looked up lazily, the first time a library configures the JVM. Any
failure here is swallowed: a start-up hook must never break the interpreter.
"""


def install() -> None:
    try:
        import jnius_config
    except Exception:  # pyjnius not installed: nothing to do
        return
    try:
        if getattr(jnius_config, "vm_running", False):
            return
        from esplade_eval.lucene.java import install_option_filter

        install_option_filter(jnius_config)
    except Exception:
        pass
