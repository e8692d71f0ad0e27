"""The edge module's pure parts: which URI and token an edge asks about, and the signed playlist."""

from __future__ import annotations

import pytest

from streamkeeper.playback import edge, signed_urls

SECRET = "edge-secret-for-units-0123456789"
VOD = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXTINF:2.000,
0.ts
#EXTINF:2.000,
1.ts?v=1
#EXTINF:1.500,
/play/TOKEN/2.ts
#EXT-X-ENDLIST
"""


def test_asset_dir():
    assert edge.asset_dir("video:42") == "video/42"
    assert edge.asset_dir("source:lobby-1") == "source/lobby-1"
    for bad in ("video", "video:", ":42", "video:../x", "video:a/b", "video:a b", "video:.x"):
        assert edge.asset_dir(bad) is None, bad


def test_original_uri_and_token():
    headers = [(b"host", b"x"), (b"x-forwarded-uri", b"/play/b/1.ts"), (b"x-original-uri", b"/play/a/0.ts?x=1")]
    assert edge.original_uri(headers) == "/play/a/0.ts?x=1"
    assert edge.original_uri(headers[:2]) == "/play/b/1.ts"
    assert edge.original_uri(headers[:1]) is None
    assert edge.token_of("/play/abc/0.ts?x=1") == "abc"
    assert edge.token_of("/play/abc/seg/0.ts") == "abc"
    for bad in ("/play/abc", "/play/abc/", "/play//0.ts", "/hls/abc/0.ts", "play/abc/0.ts"):
        assert edge.token_of(bad) is None, bad


def test_signed_playlist_of_a_vod_playlist_is_reloaded_and_signed():
    now = 1_800_000_000.4
    text = edge.signed_playlist(VOD, "video:42", SECRET, now)
    lines = text.splitlines()
    assert "#EXT-X-ENDLIST" not in lines and "#EXT-X-PLAYLIST-TYPE:VOD" not in lines
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in lines and "#EXT-X-START:TIME-OFFSET=0" in lines
    urls = [line for line in lines if not line.startswith("#")]
    assert [u.split("?")[0] for u in urls] == ["/hls/video/42/0.ts", "/hls/video/42/1.ts", "/hls/video/42/2.ts"]
    expires = 1_800_000_000 + 5  # refused from 006, within three segment durations (006.4)
    for url in urls:
        assert url.endswith(f"&expires={expires}")
        assert signed_urls.verify(url, SECRET, now + 5.5)
        assert not signed_urls.verify(url, SECRET, now + 6)
    assert lines.count("#EXTINF:2.000,") == 2


def test_signed_playlist_of_a_live_playlist_stays_live():
    live = VOD.replace("#EXT-X-PLAYLIST-TYPE:VOD\n", "").replace("#EXT-X-ENDLIST\n", "")
    text = edge.signed_playlist(live, "source:7", SECRET, 100.0, prefix="/cdn/")
    assert "PLAYLIST-TYPE" not in text and "EXT-X-START" not in text
    assert "/cdn/source/7/0.ts?md5=" in text


@pytest.mark.parametrize("segment", ["../0.ts", "https://elsewhere/0.ts", "/other/0.ts", "a b.ts"])
def test_segments_that_cannot_be_edge_files_are_refused(segment):
    with pytest.raises(ValueError):
        edge.signed_playlist(VOD.replace("0.ts", segment, 1), "video:42", SECRET, 100.0)


def test_lifetime_counts_the_longest_segment_not_the_rounded_target():
    text = VOD.replace("#EXT-X-TARGETDURATION:2", "#EXT-X-TARGETDURATION:3").replace("#EXTINF:2.000,", "#EXTINF:2.040,")
    assert edge.segment_duration(text) == 2.04
    url = [line for line in edge.signed_playlist(text, "video:1", SECRET, 100.0).splitlines() if "md5" in line][0]
    assert url.endswith("&expires=105")  # refused from 106 <= 100 + 3 x 2.04 s; not 3 x 3 s


def test_a_playlist_without_target_duration_is_refused():
    with pytest.raises(ValueError):
        edge.signed_playlist("#EXTM3U\n#EXTINF:2,\n0.ts\n", "video:1", SECRET, 0.0)


@pytest.mark.parametrize("env,named", [
    ({"STREAMKEEPER_EDGE_SECRET": "short"}, "STREAMKEEPER_EDGE_SECRET"),
    ({"STREAMKEEPER_EDGE_SECRET": "a secret with spaces in it"}, "STREAMKEEPER_EDGE_SECRET"),
    ({"STREAMKEEPER_EDGE_SECRET": SECRET, "STREAMKEEPER_EDGE_PREFIX": "hls"}, "STREAMKEEPER_EDGE_PREFIX"),
    ({"STREAMKEEPER_EDGE_PREFIX": "/hls/../x"}, "STREAMKEEPER_EDGE_PREFIX"),
])
def test_edge_settings_that_cannot_work_are_refused_at_start(env, named):
    from streamkeeper.settings import Settings, SettingsError

    settings = Settings.from_env(env)
    with pytest.raises(SettingsError) as caught:
        settings.validate()
    assert named in str(caught.value)


def test_edge_settings_that_work():
    from streamkeeper.settings import Settings

    Settings.from_env({"STREAMKEEPER_EDGE_SECRET": SECRET, "STREAMKEEPER_EDGE_PREFIX": "/cdn/hls"}).validate()
    Settings.from_env({}).validate()
