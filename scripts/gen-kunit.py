#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Registers the test module's KUnit suites, the same way on every supported kernel.

usage: gen-kunit.py SRC_DIR TESTS_DIR OUTDIR [DEMO]

Writes, into OUTDIR:
- doctests.rs: every fenced example in the rustdoc comments under SRC_DIR as one function,
  a case of the `workqueue_doctests` suite named after its file and line (`src_queue_rs_42`).
  Inside it `assert!`/`assert_eq!`/`assert_ne!` report through KUnit with the example's real
  `src/FILE:LINE`, and an example ending in `Ok::<(), E>(())` may use `?`: an `Err` fails
  the case and is printed with the same location. Examples must compile in the library's
  own crate, so this file is included into the test crate, next to the library.
- kunit.rs: one `extern "C"` function per case of every suite of TESTS_DIR. A suite is a
  module marked by a `// KUnit suite: NAME` line just above it; its cases are its
  `pub(crate) fn` functions without parameters (returning `()` or a `Result`).
- kunit_suites.c: the C `struct kunit_suite` tables of all of them, registered with
  `kunit_test_suites()`. The kernel crate's `#[kunit_tests]` exists only from 6.15 on, so
  C registers the suites on every kernel, and the cases run identically everywhere.
- compile_fail.rs and compile_fail.json: the examples marked `compile_fail`, one function
  each, with the error code each declares (```compile_fail,E0597) and the lines where its
  visible (not `# `-hidden) code lands; scripts/compile-fail.sh checks that each one fails
  with that code at one of those lines.

DEMO (`example`, `compile-fail`, `warn`, `leak` or `thread-assert`) adds the deliberate
failures of tests/demo/.
"""
import json
import os
import re
import sys

FENCE = re.compile(r"^\s*(?://[/!])\s?```(.*)$")
DOC = re.compile(r"^(\s*)(///|//!)( ?)(.*)$")
SKIP_ATTRS = {"ignore", "text", "no_run", "compile_fail", "sh", "c", "console"}
TAIL_OK = re.compile(r"^\s*Ok::<\(\),\s*(.+)>\(\(\)\)\s*;?\s*$")


def examples(path, want_compile_fail=False):
    """Yields (first_line_number, [code lines], [visible flags], attrs) for each runnable
    example in a file (or, with `want_compile_fail`, for each `compile_fail` example)."""
    with open(path) as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        attrs = {a.strip() for a in m.group(1).split(",") if a.strip()}
        start = i + 1
        body = []
        visible = []
        i += 1
        while i < len(lines) and not FENCE.match(lines[i]):
            d = DOC.match(lines[i])
            text = d.group(4) if d else ""
            shown = True
            # Hidden lines: `# code` (rustdoc's convention) are compiled but not shown.
            if text == "#":
                text, shown = "", False
            elif text.startswith("# "):
                text, shown = text[2:], False
            body.append(text)
            visible.append(shown and bool(text.strip()))
            i += 1
        i += 1
        if want_compile_fail:
            if "compile_fail" in attrs:
                yield start + 1, body, visible, attrs
            continue
        if attrs & SKIP_ATTRS or (attrs and not attrs <= {"rust"}):
            continue
        yield start + 1, body, visible, attrs


MOUNT = re.compile(r"\bcrate::workqueue\b")


def strip_ok_tail(code):
    """Splits an example into its code without trailing blank lines and without a final
    `Ok::<(), E>(())`, and E (or None when the example has no such tail).

    The examples name the library `crate::workqueue`, where README.md suggests mounting it;
    the test crate mounts it elsewhere (next to a `workqueue` module of its own, as a driver
    may have), so the examples reach it through `crate::workqueue_lib`, the name by which
    every crate that builds the library in declares where it is."""
    code = [MOUNT.sub("crate::workqueue_lib", c) for c in code]
    while code and not code[-1].strip():
        code.pop()
    tail = TAIL_OK.match(code[-1]) if code else None
    if tail:
        code.pop()
    return code, (tail.group(1) if tail else None)


SUITE = re.compile(r"^// KUnit suite: ([a-z0-9_]+)\s*$")
MODULE = re.compile(r"^(?:pub(?:\(crate\))? )?mod ([a-z0-9_]+) \{")
# `(` and `)` may be split over two lines by rustfmt when the name is long.
CASE = re.compile(r"^    pub\(crate\) fn ([a-z0-9_]+)\((\)|$)")


def doctest_source(rel, line, body, gen_line):
    """Returns (name, lines) of the generated Rust for one example.

    `gen_line` is the output line the first generated line lands on; `line` is the first line
    of the example in `rel`. Each assertion reports `line!() - DIFF`, which maps its
    generated line back to `rel`.
    """
    name = re.sub(r"[^a-z0-9]", "_", rel.lower()) + f"_{line}"
    code, err = strip_ok_tail(body)
    ret = f"::core::result::Result<(), {err}>" if err else "()"

    def asserts(macro, params, cond, what):
        return [
            f"    macro_rules! {macro} {{",
            f"        ({params} $(,)?) => {{{{",
            f"            if !({cond}) {{",
            f"                crate::kunit::assert_failed(FILE, line!() as i32 - DIFF, {what});",
            "            }",
            "        }};",
            f"        ({params}, $($msg:tt)+) => {{{{ {macro}!({params.replace(':expr', '')}) }}}};",
            "    }",
        ]

    head = [f"/// `{rel}:{line}`",
            "#[no_mangle]",
            f"extern \"C\" fn wq_kt_workqueue_doctests__{name}(_test: *mut ::kernel::bindings::kunit) {{",
            "    const DIFF: i32 = 0; // placeholder, set below",
            f"    const FILE: &::core::ffi::CStr = crate::workqueue_lib::compat::wq_c_str!(\"{rel}\");"]
    head += ["    #[allow(unused)]"] + asserts(
        "assert", "$cond:expr", "$cond",
        "crate::workqueue_lib::compat::wq_c_str!(stringify!($cond))")
    head += ["    #[allow(unused)]"] + asserts(
        "assert_eq", "$left:expr, $right:expr", "$left == $right",
        "crate::workqueue_lib::compat::wq_c_str!(stringify!($left == $right))")
    head += ["    #[allow(unused)]"] + asserts(
        "assert_ne", "$left:expr, $right:expr", "$left != $right",
        "crate::workqueue_lib::compat::wq_c_str!(stringify!($left != $right))")
    head += ["    #[allow(unused_imports)]",
             "    use ::kernel::prelude::*;",
             "    #[allow(unused_imports)]",
             "    use crate::workqueue_lib::compat::CStr;",
             "    #[allow(unused, clippy::all)]",
             f"    fn example() -> {ret} {{"]
    first = gen_line + len(head)
    head[3] = f"    #[allow(unused)] const DIFF: i32 = {first - line};"
    text = head + [("        " + c) if c else "" for c in code]
    if err:
        text.append("        Ok(())")
    text += [
        "    }",
        f"    crate::kunit::run_at(FILE, {line}, example);",
        "}",
        "",
    ]
    return name, text


def suites(tests_dir, demo):
    """Yields (suite, rust_module_path, source_rel, [cases]) for every marked suite."""
    # The quick suites first, the long-running races and model test last.
    order = ["work_tests", "owned_tests", "control_tests", "race_tests", "model_tests"]
    stems = sorted((f[:-3] for f in os.listdir(tests_dir) if f.endswith(".rs")),
                   key=lambda s: (order.index(s) if s in order else -1, s))
    files = [(os.path.join(tests_dir, f"{s}.rs"), s) for s in stems]
    if demo in ("warn", "leak", "thread-assert", "data-race", "lockdep-map"):
        stem = demo.replace("-", "_")
        files.append((os.path.join(tests_dir, "demo", f"{stem}.rs"), f"demo_{stem}"))
    base = os.path.dirname(os.path.abspath(tests_dir))
    for path, stem in files:
        lines = open(path).read().split("\n")
        for i, l in enumerate(lines):
            m = SUITE.match(l)
            if not m:
                continue
            mod = MODULE.match(lines[i + 1]) if i + 1 < len(lines) else None
            if not mod:
                sys.exit(f"gen-kunit: {path}:{i + 1}: a suite marker must precede its module")
            cases = []
            for l2 in lines[i + 2:]:
                if l2.startswith("}"):
                    break
                c = CASE.match(l2)
                if c:
                    cases.append(c.group(1))
            if not cases:
                sys.exit(f"gen-kunit: {path}: suite {m.group(1)} has no cases")
            yield (m.group(1), f"crate::{stem}::{mod.group(1)}",
                   os.path.relpath(os.path.abspath(path), base), cases)


def main():
    src, tests_dir, outdir = sys.argv[1:4]
    demo = sys.argv[4] if len(sys.argv) > 4 else ""
    files = []
    for dirpath, _, names in os.walk(src):
        files += [os.path.join(dirpath, n) for n in sorted(names) if n.endswith(".rs")]
    # The demos whose deliberate failure is a doc example: one that fails when it runs, and a
    # `compile_fail` one that compiles.
    demo_examples = {"example": "failing_example.rs", "compile-fail": "compiling_example.rs"}
    if demo in demo_examples:
        files.append(os.path.join(tests_dir, "demo", demo_examples[demo]))
    base = os.path.dirname(os.path.abspath(src))
    os.makedirs(outdir, exist_ok=True)

    # Doc examples.
    lines = [
        "// SPDX-License-Identifier: GPL-2.0",
        "// Generated by scripts/gen-kunit.py from the examples in src/. Do not edit.",
        "#![allow(unused_imports, clippy::all, clippy::pedantic)]",
        "",
    ]
    doc_cases = []
    for path in sorted(files):
        rel = os.path.relpath(os.path.abspath(path), base)
        for line, body, _, _ in examples(path):
            name, text = doctest_source(rel, line, body, len(lines) + 1)
            lines += text
            doc_cases.append(name)
    if not doc_cases:
        sys.exit("gen-kunit: no examples found")
    write_if_changed(os.path.join(outdir, "doctests.rs"), "\n".join(lines))

    # The suites of the test modules: a Rust function per case, and the C tables.
    all_suites = [("workqueue_doctests", None, None, doc_cases)] + list(suites(tests_dir, demo))
    rs = [
        "// SPDX-License-Identifier: GPL-2.0",
        "// Generated by scripts/gen-kunit.py from the suites in tests/. Do not edit.",
        "",
    ]
    c = [
        "// SPDX-License-Identifier: GPL-2.0",
        "/* Generated by scripts/gen-kunit.py from the suites in tests/. Do not edit. */",
        "",
        "#include <kunit/test.h>",
        "",
    ]
    for suite, module, rel, cases in all_suites:
        for case in cases:
            c.append(f"void wq_kt_{suite}__{case}(struct kunit *test);")
            if module is None:
                continue
            rs += [
                "#[no_mangle]",
                f"extern \"C\" fn wq_kt_{suite}__{case}(_test: *mut ::kernel::bindings::kunit) {{",
                f"    crate::kunit::run(crate::workqueue_lib::compat::wq_c_str!(\"{rel}\"), {module}::{case});",
                "}",
                "",
            ]
    c.append("")
    for suite, _, _, cases in all_suites:
        c.append(f"static struct kunit_case wq_kt_{suite}_cases[] = {{")
        for case in cases:
            c.append(f"\t{{ .run_case = wq_kt_{suite}__{case}, .name = \"{case}\",")
            c.append("\t  .module_name = KBUILD_MODNAME },")
        c += ["\t{}", "};", "",
              f"static struct kunit_suite wq_kt_{suite}_suite = {{",
              f"\t.name = \"{suite}\",",
              f"\t.test_cases = wq_kt_{suite}_cases,",
              "};", ""]
    c.append("kunit_test_suites(" + ",\n\t\t  ".join(
        f"&wq_kt_{suite}_suite" for suite, _, _, _ in all_suites) + ");")
    write_if_changed(os.path.join(outdir, "kunit.rs"), "\n".join(rs))
    write_if_changed(os.path.join(outdir, "kunit_suites.c"), "\n".join(c) + "\n")
    write_if_changed(os.path.join(outdir, "suites.txt"),
                     "\n".join(s for s, _, _, _ in all_suites) + "\n")
    print(f">>> KUnit: {len(doc_cases)} doc examples and {len(all_suites) - 1} suites "
          f"-> {os.path.relpath(outdir)}", file=sys.stderr)

    # The compile_fail examples: one function each, and where each one's visible lines land.
    cf_lines = [
        "// SPDX-License-Identifier: GPL-2.0",
        "// Generated by scripts/gen-kunit.py: examples that must not compile. Do not edit.",
        "",
    ]
    spans = []
    for path in sorted(files):
        rel = os.path.relpath(os.path.abspath(path), base)
        for line, body, visible, attrs in examples(path, want_compile_fail=True):
            codes = sorted(a for a in attrs if re.fullmatch(r"E[0-9]{4}", a))
            if len(codes) != 1:
                sys.exit(f"gen-kunit: {rel}:{line}: a compile_fail example must declare the "
                         "one error code it expects (```compile_fail,E0597)")
            name = re.sub(r"[^a-z0-9]", "_", rel.lower()) + f"_{line}"
            code, err = strip_ok_tail(body)
            cf_lines += [f"/// `{rel}:{line}`", "#[allow(unused, unreachable_code)]",
                         f"fn {name}() -> ::core::result::Result<(), ::kernel::error::Error> {{",
                         "    use ::kernel::prelude::*;",
                         "    use crate::workqueue_lib::compat::CStr;"]
            first = len(cf_lines) + 1
            cf_lines += ["    " + c if c else "" for c in code]
            shown = [first + i for i, v in enumerate(visible[:len(code)]) if v]
            spans.append({"name": name, "source": f"{rel}:{line}", "code": codes[0],
                          "first": first, "last": len(cf_lines), "visible": shown})
            cf_lines += ["    Ok(())", "}", ""]
    write_if_changed(os.path.join(outdir, "compile_fail.rs"), "\n".join(cf_lines))
    write_if_changed(os.path.join(outdir, "compile_fail.json"), json.dumps(spans, indent=1))


def write_if_changed(path, text):
    """Writes `text` to `path` unless it already holds it (keeps Kbuild from rebuilding)."""
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)


main()
