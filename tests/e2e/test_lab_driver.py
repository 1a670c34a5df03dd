"""The browser test's error detection, checked without a browser (so a harness that sees nothing fails here)."""
import json
import struct

from lab_driver import KernelErrors, errors_in


def _state(*outputs):
    return {"outputs": [{"mime": mime, "text": text} for mime, text in outputs]}


def test_clean_outputs_and_notices_pass():
    state = _state(
        ("text/plain", "ipywidgets 8.1.9"),
        ("application/vnd.jupyter.stderr",
         "nsthelpers: could not download 'starry_night' (NSTHELPERS_OFFLINE is set); using the generated 'swirls' texture"),
        ("application/vnd.jupyter.widget-view+json", "texture\nswirls\nRun\nseed\n3\nrun 2: swirls, seed 3, 96 px"),
        ("text/plain", "Errors are shown in the status line below"),
    )
    assert errors_in(state) == []


def test_tracebacks_error_lines_and_widget_failures_are_found():
    traceback = "-----\nValueError                                Traceback (most recent call last)\nValueError: boom"
    state = _state(
        ("application/vnd.jupyter.stderr", traceback),
        ("application/vnd.jupyter.widget-view+json", "Error displaying widget: model not found"),
        ("application/vnd.jupyter.widget-view+json", "Run\nstatus: RuntimeError: CUDA out of memory"),
        ("text/plain", "VBox(children=(HBox(children=(Dropdown(description='texture', ...)"),
    )
    found = errors_in(state)
    assert len(found) == 4
    assert "jupyterlab_widgets" in found[3]


def test_kernel_error_messages_are_collected_from_both_websocket_protocols():
    errors = KernelErrors()
    # legacy JSON text frames
    errors._on_frame(json.dumps({"header": {"msg_type": "error"}, "parent_header": {"msg_type": "comm_msg"},
                                 "content": {"ename": "ValueError", "evalue": "boom \"quoted\"", "traceback": []}}))
    errors._on_frame(json.dumps({"header": {"msg_type": "stream"}, "content": {"name": "stdout", "text": "ok"}}))
    # v1.kernel.websocket.jupyter.org binary frames: offsets, then channel, header, parent, metadata, content
    parts = [b"iopub", json.dumps({"msg_type": "error"}).encode(), b"{}", b"{}",
             json.dumps({"ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": []}).encode()]
    offsets, position = [], 8 * (len(parts) + 2)
    for part in parts:
        offsets.append(position)
        position += len(part)
    offsets.append(position)
    errors._on_frame(struct.pack(f"<{len(offsets) + 1}Q", len(offsets), *offsets) + b"".join(parts))
    assert errors.errors == ['ValueError: boom \\"quoted\\"', "ZeroDivisionError: division by zero"]
