"""Video: a clip stylised frame by frame, each frame starting from the last one warped by optical flow.

``flow`` (optical flow and occlusion masks), ``temporal`` (the temporal loss and one frame's optimisation),
``synthclip`` (a generated clip for tests and notebooks) and ``frames`` (reading, writing and stylising a clip,
re-exported here: ``nsthelpers.video.stylise_video``). Imports the core only.
"""
from __future__ import annotations

from .frames import (
    OUTPUT_SUFFIXES,
    VIDEO_SUFFIXES,
    VideoError,
    VideoInfo,
    VideoReport,
    decoder_errors,
    even_size,
    frames_folder,
    iter_frames,
    network_painter,
    optimisation_painter,
    probe,
    read_frames,
    settings_record,
    stylise_video,
    write_video,
)

__all__ = ["OUTPUT_SUFFIXES", "VIDEO_SUFFIXES", "VideoError", "VideoInfo", "VideoReport", "decoder_errors",
           "even_size", "frames_folder", "iter_frames", "network_painter", "optimisation_painter", "probe",
           "read_frames", "settings_record", "stylise_video", "write_video"]
