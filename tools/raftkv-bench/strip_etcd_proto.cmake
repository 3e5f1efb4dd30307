# Makes one of etcd's .proto files (from Debian's golang-etcd-server-dev) compilable by plain
# protoc: drops the gogoproto and google.api imports and the options that need them, which only
# steer Go code generation and the HTTP gateway; messages, fields and services are untouched.
# The import paths ("etcd/mvcc/mvccpb/kv.proto", ...) are kept: the caller lays the cleaned
# files out under that same tree, so protoc resolves them with one -I.
#
# Usage: cmake -DIN=<source .proto> -DOUT=<cleaned .proto> -P strip_etcd_proto.cmake
if(NOT DEFINED IN OR NOT DEFINED OUT)
  message(FATAL_ERROR "usage: cmake -DIN=file.proto -DOUT=clean.proto -P strip_etcd_proto.cmake")
endif()
file(READ "${IN}" text)
string(REPLACE "import \"gogoproto/gogo.proto\";" "" text "${text}")
string(REPLACE "import \"google/api/annotations.proto\";" "" text "${text}")
# File options: option (gogoproto.marshaler_all) = true;
string(REGEX REPLACE "option \\(gogoproto\\.[A-Za-z_]+\\) *= *[A-Za-z_]+ *;" "" text "${text}")
# Method options with a body, braces nested at most once:
#   option (google.api.http) = { post: "..." body: "*" additional_bindings { ... } };
string(REGEX REPLACE "option \\(google\\.api\\.http\\) *= *{([^{}]|{[^{}]*})*} *;" "" text
       "${text}")
# Field options, should a version carry them: [(gogoproto.nullable) = false]
string(REGEX REPLACE "\\[ *\\(gogoproto\\.[A-Za-z_]+\\) *= *[^]]*\\]" "" text "${text}")
if(text MATCHES "gogoproto|google\\.api")
  message(FATAL_ERROR "${IN}: a gogoproto or google.api reference is left after cleaning")
endif()
get_filename_component(out_dir "${OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${out_dir}")
file(WRITE "${OUT}.tmp" "${text}")
# Only touch OUT when it changes, so protoc and the compiler do not rerun needlessly.
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
