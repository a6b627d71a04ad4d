"""A streamed chat completion through the gateway with the official `openai` client.

    python openai_chat.py BASE_URL PROMPT MAX_TOKENS

Prints one JSON object: the models listed, the streamed text, the number of content chunks and
the usage of the last chunk (OpenAI's `stream_options.include_usage`).
"""
import json
import sys

from openai import OpenAI

base_url, prompt, max_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = OpenAI(base_url=base_url, api_key="not-needed")
models = [m.id for m in client.models.list()]
stream = client.chat.completions.create(
    model=models[0],
    messages=[{"role": "user", "content": prompt}],
    max_tokens=max_tokens,
    stream=True,
    stream_options={"include_usage": True},
)
text, chunks, usage, finish = "", 0, None, None
for chunk in stream:
    if chunk.choices:
        choice = chunk.choices[0]
        if choice.delta and choice.delta.content:
            text += choice.delta.content
            chunks += 1
        finish = choice.finish_reason or finish
    if chunk.usage is not None:
        usage = chunk.usage.model_dump()
print(json.dumps({"models": models, "text": text, "chunks": chunks, "usage": usage, "finish": finish}))
