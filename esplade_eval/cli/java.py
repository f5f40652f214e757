"""``esplade-eval java``: show the Java runtime Lucene will use; install the start-up hook."""

from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser("java", help="show the Java 21+ runtime used for Lucene; --install-hook for Pyserini's CLI",
                       description="Show which Java runtime Lucene will use and why.")
    p.add_argument("--install-hook", action="store_true",
                   help="write esplade_eval_java.pth into site-packages so `python -m pyserini...` works unmodified")
    p.add_argument("--start", action="store_true", help="also start the JVM and print Anserini's jar")
    declare_paths(p)
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.lucene import java

    rt = java.find_java()
    print(f"java: {rt.version} from {rt.source} ({rt.home})")
    print(f"jdk.incubator.vector: {'available' if rt.has_vector_module else 'absent (option dropped)'}")
    if args.install_hook:
        print(f"hook: {java.install_pth_hook()}")
    if args.start:
        autoclass = java.start()
        system = autoclass("java.lang.System")
        print(f"jvm: {system.getProperty('java.vm.name')} {system.getProperty('java.version')}")
    return 0
