"""Video: warping and flow, the synthetic clip's ground truth, the temporal loss, flicker, frame I/O, resume."""
import numpy as np
import pytest
import torch

import nsthelpers as nst
from nsthelpers import video
from nsthelpers.video import flow, synthclip, temporal


def test_warp_of_a_known_flow_matches_a_hand_computation():
    image = torch.arange(20, dtype=torch.float32).view(1, 1, 4, 5)   # value = 5·y + x
    right = torch.zeros(1, 2, 4, 5)
    right[:, 0] = 1.0                                                 # every pixel was one to the right
    expected = image[..., [1, 2, 3, 4, 4]]                            # the last column clamps to the border
    assert torch.equal(flow.warp(image, right), expected)
    half = torch.zeros(1, 2, 4, 5)
    half[:, 1] = 0.5                                                  # half a row down: the mean of two rows
    assert torch.allclose(flow.warp(image, half)[0, 0, 1, 2], torch.tensor((7 + 12) / 2))
    mixed = torch.zeros(1, 2, 4, 5)
    mixed[0, :, 2, 3] = torch.tensor([-1.25, -0.5])                   # (x, y) = (3, 2) looks at (1.75, 1.5)
    by_hand = 0.5 * (0.25 * 6 + 0.75 * 7) + 0.5 * (0.25 * 11 + 0.75 * 12)   # rows y = 1, 2; columns x = 1, 2
    assert torch.allclose(flow.warp(image, mixed)[0, 0, 2, 3], torch.tensor(by_hand))
    assert torch.equal(flow.warp(image, mixed)[0, 0, 0], image[0, 0, 0])   # zero flow elsewhere: unchanged
    assert torch.equal(flow.inside(right)[0, 0], torch.tensor([[1.0, 1, 1, 1, 0]] * 4))


def test_flow_shapes_are_checked():
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        flow.warp(torch.rand(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="same size"):
        flow.warp(torch.rand(1, 3, 4, 4), torch.zeros(1, 2, 5, 4))


def test_flicker_metric_on_a_constructed_case(rng):
    first = torch.rand(1, 3, 6, 8, generator=rng)
    second = torch.roll(first, shifts=-2, dims=-1)                    # the scene moved 2 px to the left
    shift = torch.zeros(1, 2, 6, 8)
    shift[:, 0] = 2.0                                                 # so each pixel was 2 px to the right
    mask = flow.inside(shift)                                         # the 2 right columns came in from outside
    assert temporal.warping_errors([first, second], [shift, shift], [mask, mask]) == [pytest.approx(0, abs=1e-12)]
    noise = torch.zeros_like(second)
    noise[0, 1, 3, 4] = 0.5                                           # one channel of one visible pixel flickers
    noise[0, :, 0, 7] = 0.9                                           # an occluded pixel: not counted
    errors = temporal.warping_errors([first, second + noise], [shift, shift], [mask, mask])
    assert errors == [pytest.approx(0.5 ** 2 / (3 * 6 * 6))]          # 0.25 over 6×6 visible pixels, 3 channels
    with pytest.raises(ValueError, match="at least 2 frames"):
        temporal.warping_errors([first], [shift], [mask])


@pytest.fixture(scope="module")
def clip():
    background = nst.data.content_photo("coffee", max_size=160)
    return synthclip.synthetic_clip(background, nst.data.generated_texture("dots", 64), frames=6, size=(48, 64))


def test_synthetic_clip_knows_its_flow_and_occlusions(clip):
    assert len(clip) == 6 and clip.frames[0].shape == (1, 3, 48, 64) and clip.masks[0].sum() == 0
    for t in range(1, 6):
        mask = clip.masks[t]
        warped = flow.warp(clip.frames[t - 1], clip.flows[t])
        with_flow = float((mask * (clip.frames[t] - warped) ** 2).sum() / mask.sum())
        without = float((mask * (clip.frames[t] - clip.frames[t - 1]) ** 2).sum() / mask.sum())
        assert with_flow < without / 10                   # the true flow explains the change (up to resampling)
        sprite_flow = clip.flows[t][:, :, clip.sprite[t][0, 0] > 0]
        assert torch.allclose(sprite_flow, sprite_flow[:, :, :1].expand_as(sprite_flow))   # the sprite translates
        # occluded: scenery the sprite uncovered (under its old disc, off its new one) and the edge the pan brings in
        uncovered = (clip.sprite[t - 1] > 0) & (clip.sprite[t] == 0)
        assert (mask[uncovered] == 0).float().mean() > 0.5
        assert mask[..., -1].sum() == 0                     # the camera pans right: the last column is new
        assert 0.8 < float(mask.mean()) < 0.99


def test_farneback_beats_zero_flow_and_the_consistency_check_finds_occlusions(clip):
    t = 3
    estimate = flow.farneback(clip.frames[t], clip.frames[t - 1])
    forward = flow.farneback(clip.frames[t - 1], clip.frames[t])
    truth, mask = clip.flows[t], clip.masks[t]
    assert estimate.shape == truth.shape
    assert flow.endpoint_error(estimate, truth, mask) < 0.7 * flow.endpoint_error(torch.zeros_like(truth), truth, mask)
    found = flow.consistency_mask(estimate, forward)
    assert found.shape == mask.shape and set(found.unique().tolist()) <= {0.0, 1.0}
    # pixels it calls occluded are occluded more often than pixels picked at random
    assert float((1 - mask)[found == 0].mean()) > 2 * float((1 - mask).mean())


def test_consistency_check_on_exact_and_broken_flows():
    back = torch.zeros(1, 2, 8, 8)
    back[:, 0] = 1.0
    assert torch.equal(flow.consistency_mask(back, -back), flow.inside(back))     # a perfect round trip
    assert flow.consistency_mask(back, back).sum() == 0                           # 2 px off everywhere


def test_temporal_loss_and_objective_by_hand(random_vgg, rng):
    image = torch.rand(1, 3, 32, 32, generator=rng)
    target = torch.rand(1, 3, 32, 32, generator=rng)
    mask = (torch.rand(1, 1, 32, 32, generator=rng) > 0.5).float()
    assert float(temporal.temporal_loss(image, target, mask)) == pytest.approx(
        float(((image - target) ** 2 * mask).sum() / (3 * 32 * 32)), rel=1e-5)
    base = nst.Objective(random_vgg, image, [target])
    wrapped = temporal.TemporalObjective(base, target, mask, temporal_weight=1e3)
    x = image.clone().requires_grad_(True)
    losses = wrapped(x)
    assert losses["total"].item() == pytest.approx(base(image)["total"].item() + 1e3 * losses["temporal"].item(), rel=1e-5)
    losses["total"].backward()
    y = image.clone().requires_grad_(True)
    base(y)["total"].backward()
    by_hand = 1e3 * 2 * mask * (image - target) / (3 * 32 * 32)        # d/dx of the weighted temporal term
    assert torch.allclose(x.grad - y.grad, by_hand, atol=1e-4)   # the VGG part is ~30: float32 noise ~1e-5


def test_warm_start_is_the_warped_previous_result_where_visible(clip):
    previous = torch.rand(1, 3, 48, 64)
    t = 2
    start = temporal.warm_start(clip.frames[t], previous, clip.flows[t], clip.masks[t])
    visible = clip.masks[t].expand_as(start) > 0
    assert torch.allclose(start[visible], flow.warp(previous, clip.flows[t])[visible])
    assert torch.equal(start[~visible], clip.frames[t][~visible])


def test_three_methods_run_and_a_strong_temporal_loss_stops_flicker(random_vgg, clip):
    settings = temporal.FrameSettings(steps=4, optimizer="lbfgs", temporal_weight=1e9,
                                      objective={"style_layers": ["relu1_1", "relu2_1"], "content_layers": ["relu2_1"]})
    style = nst.data.generated_texture("swirls", 64)
    frames = clip.frames[:4]
    runs = {m: temporal.stylise_frames(random_vgg, frames, style, m, settings, clip.flows, clip.masks)
            for m in temporal.METHODS}
    flicker = {m: np.mean(temporal.warping_errors(r.frames, clip.flows[:4], clip.masks[:4])) for m, r in runs.items()}
    assert all(len(r.frames) == 4 and len(r.seconds) == 4 for r in runs.values())
    assert flicker["temporal"] < 0.5 * flicker["frame"], flicker   # it keeps what the flow can follow
    with pytest.raises(ValueError, match="needs the flow"):
        temporal.stylise_frame(random_vgg, frames[1], style, "warm", settings, previous=frames[0])


def _write_clip(path, clip):
    return video.write_video(path, clip.frames, fps=8)


def test_video_round_trip_and_gif(tmp_path, clip):
    mp4 = _write_clip(tmp_path / "clip.mp4", clip)
    frames, info = video.read_frames(mp4)
    assert len(frames) == 6 and frames[0].shape == (1, 3, 48, 64) and info.fps == pytest.approx(8)
    assert float((frames[3] - clip.frames[3]).abs().mean()) < 0.05      # H.264 is lossy, but close
    small, _ = video.read_frames(mp4, size=33, max_frames=2)
    assert len(small) == 2 and small[0].shape[-2:] == (24, 32)          # longer side 33 → even sides
    gif = video.write_video(tmp_path / "clip.gif", clip.frames, fps=5)
    from PIL import Image
    with Image.open(gif) as im:
        assert im.n_frames == 6 and im.info["duration"] == 200


def test_unreadable_missing_and_wrong_suffix_videos_are_clear(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    with pytest.raises(video.VideoError, match="could not read .*notes.mp4 as a video"):
        video.read_frames(bad)
    with pytest.raises(FileNotFoundError, match="no video"):
        video.read_frames(tmp_path / "missing.mp4")
    with pytest.raises(video.VideoError, match="use one of"):
        video.write_video(tmp_path / "out.avi", [torch.rand(1, 3, 8, 8)])


def test_resume_skips_frames_already_written(tmp_path, clip):
    mp4 = _write_clip(tmp_path / "clip.mp4", clip)
    calls = []

    def paint(t, frame, previous, flow_, mask):
        calls.append((t, previous is not None, flow_ is not None))
        if t == 4 and len(calls) == 5:
            raise KeyboardInterrupt                                        # the first run dies at frame 4
        return 1 - frame

    out = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        video.stylise_video(mp4, out, paint, fingerprint={"m": 1}, needs_flow=True, size=None, progress=False)
    assert sorted(p.name for p in video.frames_folder(out).glob("frame_*.png")) == [f"frame_{t:05d}.png" for t in range(4)]
    assert calls[1] == (1, True, True)
    calls.clear()
    report = video.stylise_video(mp4, out, paint, fingerprint={"m": 1}, needs_flow=True, size=None, progress=False)
    assert [c[0] for c in calls] == [4, 5] and calls[0][1] and calls[0][2]   # frame 3 read back as "previous"
    assert (report.frames, report.computed, report.resumed) == (6, 2, 4)
    assert out.exists() and not video.frames_folder(out).exists()
    frames, _ = video.read_frames(out)
    assert float((frames[2] - (1 - clip.frames[2])).abs().mean()) < 0.06
    video.frames_folder(out).mkdir()
    (video.frames_folder(out) / "settings.json").write_text('{"m": 2}')
    with pytest.raises(ValueError, match="other settings"):
        video.stylise_video(mp4, out, paint, fingerprint={"m": 1}, needs_flow=False, size=None, progress=False)
