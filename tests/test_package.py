import agent


def test_package_imports() -> None:
    assert agent.__doc__ and "LLMCompiler" in agent.__doc__
