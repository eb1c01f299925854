# Entry points; the work is in scripts/ and CMake.
.PHONY: all build test test-plain demo clean

all: build

build:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build -j

test:
	scripts/test.sh

test-plain:
	scripts/test.sh plain

demo:
	scripts/demo.sh

clean:
	rm -rf build build-test-*
