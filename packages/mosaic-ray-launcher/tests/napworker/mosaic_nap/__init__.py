"""The launcher tests' own worker: it naps between steps, so runs last without using CPU.

Installed by the tests as the distribution ``mosaic-nap-worker`` 0.1.0 (a
``*.dist-info`` beside this package on ``PYTHONPATH``) only where they put
it: on this machine and on the nodes they start with it. Worker type
``nap``: ``total_steps`` steps of ``step_seconds`` each, a ``metrics``
event per step, a checkpoint at the end (and when stopped).
"""
