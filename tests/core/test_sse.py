from airflow_workflow_providers.core.sse import SSEDecoder, SSEEvent


def test_events_split_across_chunks_and_crlf():
    decoder = SSEDecoder()
    assert decoder.feed(b"event: ping\r\n") == []
    assert decoder.feed(b'\r\ndata: {"a"') == [SSEEvent("ping", "")]
    assert decoder.feed(b": 1}\n\n: comment\n\ndata: x\ndata: y\n\n") == [
        SSEEvent("message", '{"a": 1}'),
        SSEEvent("message", "x\ny"),
    ]
