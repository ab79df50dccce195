#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns every fenced example in the rustdoc comments under src/ into a KUnit case.

usage: gen-doctests.py SRC_DIR OUTPUT [EXTRA_DIR...]

Examples marked `compile_fail` go instead, one function each, into `compile_fail.rs` next to
OUTPUT, with `compile_fail.json` mapping each to its lines there; scripts/compile-fail.sh
checks that every one of them fails to compile.

Each example becomes one case of the `workqueue_doctests` suite, named after its file and
line (`queue_rs_42`). Inside it `assert!`/`assert_eq!` report through KUnit with the
example's real `src/FILE:LINE`, and an example ending in `Ok::<(), E>(())` may use `?`: an
`Err` fails the case and is printed with the same location. The output is included into the
test crate, next to the library, because examples must compile in the library's own crate.
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
    """Yields (first_line_number, [code lines]) for each runnable example in a file (or,
    with `want_compile_fail`, for each `compile_fail` example)."""
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
        i += 1
        while i < len(lines) and not FENCE.match(lines[i]):
            d = DOC.match(lines[i])
            text = d.group(4) if d else ""
            # Hidden lines: `# code` (rustdoc's convention) are compiled but not shown.
            if text == "#":
                text = ""
            elif text.startswith("# "):
                text = text[2:]
            body.append(text)
            i += 1
        i += 1
        if want_compile_fail:
            if "compile_fail" in attrs:
                yield start + 1, body
            continue
        if attrs & SKIP_ATTRS or (attrs and not attrs <= {"rust"}):
            continue
        yield start + 1, body


def case_source(rel, line, body, gen_line):
    """Returns (name, lines) of the generated Rust for one example.

    `gen_line` is the output line the first generated line lands on; `line` is the first
    line of the example in `rel`. `kunit_assert!` reports `line!() - diff`, so each assertion
    gets the diff that maps its generated line back to `rel`.
    """
    name = re.sub(r"[^a-z0-9]", "_", rel.lower()) + f"_{line}"
    code = list(body)
    while code and not code[-1].strip():
        code.pop()
    tail = TAIL_OK.match(code[-1]) if code else None
    ret = f"::core::result::Result<(), {tail.group(1)}>" if tail else "()"

    def asserts(macro, kunit, params, cond):
        return [
            f"    macro_rules! {macro} {{",
            f"        ({params} $(,)?) => {{{{",
            f"            ::kernel::{kunit}!(\"{name}\", c\"{rel}\", DIFF, {cond});",
            "        }};",
            f"        ({params}, $($msg:tt)+) => {{{{",
            f"            ::kernel::{kunit}!(\"{name}\", c\"{rel}\", DIFF, {cond});",
            "        }};",
            "    }",
        ]

    head = [f"/// `{rel}:{line}`",
            f"unsafe extern \"C\" fn {name}(_test: *mut ::kernel::bindings::kunit) {{",
            "    const DIFF: i32 = 0; // placeholder, set below"]
    head += ["    #[allow(unused)]"] + asserts("assert", "kunit_assert", "$cond:expr", "$cond")
    head += ["    #[allow(unused)]"] + asserts("assert_eq", "kunit_assert_eq",
                                                  "$left:expr, $right:expr", "$left, $right")
    head += ["    #[allow(unused)]"] + asserts("assert_ne", "kunit_assert",
                                                  "$left:expr, $right:expr", "$left != $right")
    head += ["    #[allow(unused_imports)]",
             "    use ::kernel::prelude::*;",
             "    #[allow(unused, clippy::all)]",
             f"    fn example() -> {ret} {{"]
    first = gen_line + len(head)
    head[2] = f"    #[allow(unused)] const DIFF: i32 = {first - line};"
    text = head + [("        " + c) if c else "" for c in code]
    verdict = gen_line + len(text) + 7
    text += [
        "    }",
        "    let ok = ::kernel::kunit::is_test_result_ok(example());",
        "    if !ok {",
        "        ::kernel::kunit::err(::kernel::prelude::fmt!(",
        f"            \"    # {name}: the example at {rel}:{line} returned an error\\n\"",
        "        ));",
        "    }",
        f"    ::kernel::kunit_assert!(\"{name}\", c\"{rel}\", {verdict - line}, ok);",
        "}",
        "",
    ]
    assert text[verdict - gen_line].lstrip().startswith("::kernel::kunit_assert!")
    return name, text


def main():
    src, out = sys.argv[1], sys.argv[2]
    roots = [src] + sys.argv[3:]
    files = []
    for root in roots:
        for dirpath, _, names in os.walk(root):
            files += [os.path.join(dirpath, n) for n in sorted(names) if n.endswith(".rs")]
    base = os.path.dirname(os.path.abspath(src))
    lines = [
        "// SPDX-License-Identifier: GPL-2.0",
        "// Generated by scripts/gen-doctests.py from the examples in src/. Do not edit.",
        "#![allow(unused_imports, clippy::all, clippy::pedantic)]",
        "",
    ]
    cases = []
    for path in sorted(files):
        rel = os.path.relpath(os.path.abspath(path), base)
        for line, body in examples(path):
            name, text = case_source(rel, line, body, len(lines) + 1)
            lines += text
            cases.append(name)
    if not cases:
        sys.exit("gen-doctests: no examples found")
    lines.append(f"static mut TEST_CASES: [::kernel::bindings::kunit_case; {len(cases) + 1}] = [")
    for c in cases:
        lines.append(f"    ::kernel::kunit::kunit_case(c\"{c}\", {c}),")
    lines += ["    ::pin_init::zeroed(),", "];", "",
              "::kernel::kunit_unsafe_test_suite!(workqueue_doctests, TEST_CASES);", ""]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    write_if_changed(out, "\n".join(lines))
    print(f">>> {len(cases)} doc examples -> {os.path.relpath(out)}", file=sys.stderr)

    # The compile_fail examples: one function each, and where each one's lines land.
    cf_lines = [
        "// SPDX-License-Identifier: GPL-2.0",
        "// Generated by scripts/gen-doctests.py: examples that must not compile. Do not edit.",
        "",
    ]
    spans = []
    for path in sorted(files):
        rel = os.path.relpath(os.path.abspath(path), base)
        for line, body in examples(path, want_compile_fail=True):
            name = re.sub(r"[^a-z0-9]", "_", rel.lower()) + f"_{line}"
            cf_lines += [f"/// `{rel}:{line}`", "#[allow(unused)]",
                         f"fn {name}() -> ::core::result::Result<(), ::kernel::error::Error> {{",
                         "    use ::kernel::prelude::*;"]
            first = len(cf_lines) + 1
            cf_lines += ["    " + c if c else "" for c in body]
            spans.append({"name": name, "source": f"{rel}:{line}",
                          "first": first, "last": len(cf_lines)})
            cf_lines += ["    #[allow(unreachable_code)]", "    Ok(())", "}", ""]
    cf_out = os.path.join(os.path.dirname(out), "compile_fail.rs")
    write_if_changed(cf_out, "\n".join(cf_lines))
    write_if_changed(os.path.join(os.path.dirname(out), "compile_fail.json"),
                     json.dumps(spans, indent=1))


def write_if_changed(path, text):
    """Writes `text` to `path` unless it already holds it (keeps Kbuild from rebuilding)."""
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)


main()
