"""Shared by the single-turn env tests: answer one task and return (reward, info)."""


def reply(env, text, task_id="0"):
    env.reset(options={"task_id": task_id})
    _, reward, terminated, _, info = env.step(text)
    assert terminated
    return reward, info
