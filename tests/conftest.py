def pytest_addoption(parser):
    parser.addoption(
        "--fuzz-examples",
        type=int,
        default=None,
        help="hostile actions per env in tests/fuzz (default: ATROPOS_FUZZ_EXAMPLES or a CI-sized 300)",
    )
