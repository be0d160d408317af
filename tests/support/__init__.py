"""What the test folders share: the fakes (`fakes`), the in-memory wiring of the shell
(`memory`), the in-process harness of the deployed handlers (`harness`), and the helpers and
constants several test modules use. Fixtures live in the folders' conftest modules; test modules
import from here, never from another test module or a conftest."""
