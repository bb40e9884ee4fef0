"""The models shipped in saved_models/ load with TensorFlow alone and give the documented answers."""

import os

import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizers' ops)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Years across the documented range 1800-2199, outside 1950-2049 too (the window of two-digit years).
DATES = {
    "3. März 2021": "2021-03-03",
    "le 4 avril 1999": "1999-04-04",
    "March 5th, 1968": "1968-03-05",
    "12 March 1937": "1937-03-12",
    "domingo, 7 de julio de 1811": "1811-07-07",
    "14.11.2150": "2150-11-14",
    "31/12/49": "2049-12-31",
    "01.01.50": "1950-01-01",
}


# The Spanish -> English model: everyday sentences of the kind it was trained on (see saved_models/README.md).
SPANISH = {
    "¿Dónde está la biblioteca?": "Where's the library?",
    "Tengo hambre.": "I'm hungry.",
    "Me gusta leer libros.": "I like to read books.",
    "Hace mucho frío hoy.": "It's very cold today.",
    "No sé nadar.": "I can't swim.",
}


@pytest.mark.parametrize("folder, cases", [("dates", DATES), ("spa-eng", SPANISH)], ids=["dates", "spa-eng"])
def test_a_shipped_model_translates_its_fixed_cases(folder, cases):
    served = tf.saved_model.load(os.path.join(REPO, "saved_models", folder, "1")).signatures["serving_default"]
    got = [t.decode("utf-8") for t in served(inputs=tf.constant(list(cases)))["translations"].numpy()]
    assert dict(zip(cases, got)) == cases


def test_the_readme_commands_translate_with_the_spanish_model():
    import json
    import urllib.request

    from s2s_keras.serving import create_app
    from tests.test_console import run_python
    from tests.test_serving import running

    sentence, expected = next(iter(SPANISH.items()))
    # `s2s-keras translate saved_models/spa-eng SENTENCE`, then a server's start (which warms the model up)
    done = run_python(["-c", "import sys; from s2s_keras import cli; from s2s_keras.serving import create_app; "
                             "code = cli.main(['translate', 'saved_models/spa-eng', sys.argv[1]]); "
                             "create_app('saved_models/spa-eng'); sys.exit(code)", sentence])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
    assert "precompiled_charsmap" not in done.stderr  # the tokenizers' log line a user cannot act on
    with running(create_app(os.path.join(REPO, "saved_models", "spa-eng"))) as url:
        request = urllib.request.Request(f"{url}/v1/models/spa-eng:predict",
                                         data=json.dumps({"instances": [sentence]}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert json.loads(response.read())["predictions"][0]["translations"] == expected
